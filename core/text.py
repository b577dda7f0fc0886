"""Text from files, made safe to print on a terminal.

Class names, model descriptions, formulas, CSV cells and file names come from files anybody
can write. Printed raw, an escape sequence in them can rewrite the terminal (move the cursor,
change the title, hide the lines above), and a lone surrogate (how Python keeps undecodable
bytes) makes `print` raise UnicodeEncodeError. `terminal_safe` shows both as visible escapes.
"""

import unicodedata

# Unicode categories shown escaped: controls (ESC, BEL, CR...), formats (bidi overrides,
# zero-width characters that can disguise text), surrogates, unassigned code points.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def terminal_safe(text: object, keep_newlines: bool = False) -> str:
    """`str(text)` with every control, format or surrogate character written as an escape.

    A backslash stays as it is (file paths on Windows); newlines are kept when asked (multi-line
    messages), otherwise escaped too, so one value stays on one line.
    """
    out = []
    for char in str(text):
        if keep_newlines and char == "\n":
            out.append(char)
        elif unicodedata.category(char) in _UNSAFE_CATEGORIES:
            out.append(_escape(char))
        else:
            out.append(char)
    return "".join(out)


def is_printable(text: str) -> bool:
    """True when `terminal_safe(text) == text` (nothing in it would be escaped)."""
    return not any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in text)
