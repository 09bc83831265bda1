Attribute VB_Name = "ArRibbon"
' Ribbon callbacks of the xl-ar tab (ribbon XML: macros/customUI14.xml).
'
' Every button has onAction="ArOnAction"; its control id names the Python
' handler, run as xl_ar.ribbon.run("<id>") through xlwings' RunPython.
' Rules for this module (the project's Excel notes, docs/excel.md):
'  - code page 1252 text only: the Chinese labels live in the ribbon XML;
'  - no conditional compilation: LibreOffice, which checks this module
'    headless, runs both branches of an #If;
'  - the RunPython call stays in ArRun alone, so the test build of the
'    template can swap ArRun for a recorder.
Option Explicit

' The one callback of every button (needs the Office library reference,
' which defines IRibbonControl).
Public Sub ArOnAction(control As IRibbonControl)
    ArDispatch control.Id
End Sub

' Runs the handler of a ribbon control id, or says the id is unknown.
Public Sub ArDispatch(ByVal controlId As String)
    Dim command As String
    command = ArCommandFor(controlId)
    If command = "" Then
        MsgBox "xl-ar: no handler for the ribbon button '" & controlId & "'.", vbExclamation, "xl-ar"
    Else
        ArRun command
    End If
End Sub

' The Python command of a ribbon control id; "" for an unknown id.
Public Function ArCommandFor(ByVal controlId As String) As String
    Select Case controlId
        Case "refresh_aging", "update_credit", "plan_collections", "reminders", "send", "import_confirmations", "statements", "dashboard", "help"
            ArCommandFor = "import xl_ar.ribbon; xl_ar.ribbon.run('" & controlId & "')"
        Case Else
            ArCommandFor = ""
    End Select
End Function

' Runs one Python command through xlwings (module xlwings, embedded).
Public Sub ArRun(ByVal command As String)
    RunPython command
End Sub
