"""Output encoding: what a student's code controls, made inert wherever a person reads it.

A submission controls many strings that end up in what an instructor or a student opens:
exception texts and class names, what its code printed or warned, its file and folder
names, its notebook's metadata. Each place they are shown (a *sink*) reads some characters
as commands, so each sink encodes them its own way, when the text is written out:

- a terminal (the text report, ``batch``'s progress line, the command line's messages) obeys
  control characters: ESC sequences change the title, clear the screen, write the
  clipboard (OSC 52); CR and backspace overwrite what was printed; bidi overrides reorder
  what is read. :func:`for_terminal` shows each of them as a visible escape (``\\x1b``,
  ``\\u202e``), and with ``lines=True`` keeps only the newline, for a multi-line body whose
  renderer indents what it holds (see :func:`grader.results.render_text`);
- a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula:
  :func:`for_csv_cell` quotes such a cell (OWASP's rule for CSV injection);
- a browser reads markup: :func:`for_html` escapes it (the standard library's
  :func:`html.escape`, quotes included, so the text is safe in an element and in a quoted
  attribute), after :func:`for_terminal`, so that no invisible character reorders the page.

Backslashes are left as they are: the escapes are for reading, not for decoding back.
"""

from __future__ import annotations

import html
import unicodedata

#: The Unicode categories shown escaped: control characters (C0, DEL, C1), format
#: characters (bidi embeddings, overrides, isolates and marks, zero-width characters, the
#: byte order mark, tags), line and paragraph separators, and lone surrogates (which a
#: file name read with ``surrogateescape`` holds, and no UTF-8 stream can write).
#: Unassigned and private-use characters are kept: a newer emoji is unassigned in an
#: older Unicode database, and neither kind moves the cursor.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: The short escapes of the common control characters.
SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"), with the
#: full-width forms that some spreadsheets also accept.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def _escape(character: str) -> str:
    code = ord(character)
    if character in SHORT_ESCAPES:
        return SHORT_ESCAPES[character]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _visible_line(text: str) -> str:
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(_escape(c) if unicodedata.category(c) in ESCAPED_CATEGORIES else c for c in text)


def for_terminal(text: object, lines: bool = False) -> str:
    """A text as a terminal may show it: every control or invisible formatting character
    shown as a visible escape.

    Args:
        text: the text (anything else is shown as ``str()`` gives it).
        lines: keep the newlines (a multi-line body); every other control character is
            escaped all the same, CR and tab included. By default the text is one line:
            its newlines are escaped too, so it cannot start a line of its own.

    Returns:
        the text, e.g. ``"boom\\x1b]0;owned\\x07"`` for ``"boom\\x1b]0;owned\\x07"`` with
        a real ESC and BEL.
    """
    text = str(text)
    if lines:
        return "\n".join(_visible_line(line) for line in text.split("\n"))
    return _visible_line(text)


def for_csv_cell(value: object) -> object:
    """A value as a cell of a CSV file that a spreadsheet opens: a number as it is, a text
    that would be read as a formula quoted.

    OWASP's rule: a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a
    leading single quote, which spreadsheets show as text; a cell whose first character
    after spaces is one of those is quoted too (spreadsheets skip leading spaces). Its
    control characters are escaped (:func:`for_terminal`), so that the cell is one line
    and the file can be printed to a terminal. A text that reads as a number (a score
    written as ``"-0.5"``) is left alone: a spreadsheet reads it as a number, not a formula.
    No maintained library does this for the standard library's :mod:`csv` writer.

    Args:
        value: the cell's value.

    Returns:
        the value, quoted when it is a text a spreadsheet would run.
    """
    if not isinstance(value, str):
        return value
    try:
        if value == value.strip():
            float(value)
            return value
    except ValueError:
        pass
    risky = value[:1] in ("\t", "\r") or value.lstrip()[:1] in FORMULA_STARTS
    shown = for_terminal(value)
    return "'" + shown if risky or shown.lstrip()[:1] in FORMULA_STARTS else shown


def for_html(text: object) -> str:
    """A text as an HTML page shows it: markup escaped (quotes included, so it may stand in
    a quoted attribute too), invisible characters shown as escapes, newlines kept.

    Args:
        text: the text (anything else is shown as ``str()`` gives it).

    Returns:
        the escaped text.
    """
    return html.escape(for_terminal(text, lines=True), quote=True)
