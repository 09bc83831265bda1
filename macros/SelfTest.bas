Attribute VB_Name = "ArSelfTest"
' A self-test of the template's own VBA, plain enough for LibreOffice to run
' headless (no #If, no Windows API, no xlwings call).
'
' ArSelfTest() returns "OK <n>" after n passed checks, or "FAIL: <reason>"
' for the first failed one. It does not change the workbook.
Option Explicit

Private checksPassed As Long
Private firstFailure As String

Private Sub Check(ByVal passed As Boolean, ByVal what As String)
    If passed Then
        checksPassed = checksPassed + 1
    ElseIf firstFailure = "" Then
        firstFailure = what
    End If
End Sub

' The value next to key in column A of the xlwings.conf sheet, read the way
' xlwings' GetConfigFromSheet does: from A1 down to the first blank cell,
' keys compared in upper case.
Private Function ConfValue(ByVal key As String) As String
    Dim sht As Object, r As Long
    Set sht = ThisWorkbook.Worksheets("xlwings.conf")
    r = 1
    Do While CStr(sht.Cells(r, 1).Value) <> ""
        If UCase(CStr(sht.Cells(r, 1).Value)) = UCase(key) Then
            ConfValue = CStr(sht.Cells(r, 2).Value)
            Exit Function
        End If
        r = r + 1
    Loop
    ConfValue = "<missing>"
End Function

Public Function ArSelfTest() As String
    Dim ids As Variant, i As Long, expected As String
    checksPassed = 0
    firstFailure = ""

    ' Every ribbon control id maps to its Python handler; others to nothing.
    ids = Array("refresh_aging", "update_credit", "plan_collections", "reminders", "statements", "dashboard", "help")
    For i = LBound(ids) To UBound(ids)
        expected = "import xl_ar.ribbon; xl_ar.ribbon.run('" & ids(i) & "')"
        Check ArCommandFor(ids(i)) = expected, "ArCommandFor(" & ids(i) & ") = " & ArCommandFor(ids(i))
    Next i
    Check ArCommandFor("no_such_button") = "", "an unknown control id has a command"

    ' The standalone xlwings configuration lives on the xlwings.conf sheet.
    Check ConfValue("UDF Modules") = "xl_ar.udfs", "xlwings.conf UDF Modules = " & ConfValue("UDF Modules")
    Check ConfValue("Interpreter_Win") <> "<missing>", "xlwings.conf has no Interpreter_Win"

    ' Sheets: README first, xlwings.conf last, the ledger sheets between.
    Check ThisWorkbook.Worksheets.Count >= 7, "only " & ThisWorkbook.Worksheets.Count & " sheets"
    Check ThisWorkbook.Worksheets(1).Name = "README", "first sheet is " & ThisWorkbook.Worksheets(1).Name
    Check ThisWorkbook.Worksheets(ThisWorkbook.Worksheets.Count).Name = "xlwings.conf", "xlwings.conf is not the last sheet"

    If firstFailure = "" Then
        ArSelfTest = "OK " & checksPassed
    Else
        ArSelfTest = "FAIL: " & firstFailure
    End If
End Function
