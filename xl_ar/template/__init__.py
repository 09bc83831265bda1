"""Writers for the binary parts of the workbook template.

``cfb`` writes MS-CFB compound files; ``ovba`` builds a ``vbaProject.bin``
(MS-OVBA) from VBA source text on top of it.
"""
