"""US keyboard layout for barcode scanners in keyboard-wedge mode: key code -> (plain, shifted).

Key codes are the Linux input codes (linux/input-event-codes.h), the same numbers
python-evdev exposes as ecodes.KEY_*; written out so decoding needs no evdev import.
"""

_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(",
    11: "0)", 12: "-_", 13: "=+", 15: "\t\t",
    16: "qQ", 17: "wW", 18: "eE", 19: "rR", 20: "tT", 21: "yY", 22: "uU", 23: "iI",
    24: "oO", 25: "pP", 26: "[{", 27: "]}",
    30: "aA", 31: "sS", 32: "dD", 33: "fF", 34: "gG", 35: "hH", 36: "jJ", 37: "kK",
    38: "lL", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|",
    44: "zZ", 45: "xX", 46: "cC", 47: "vV", 48: "bB", 49: "nN", 50: "mM", 51: ",<",
    52: ".>", 53: "/?", 57: "  ",
    # keypad: scanners configured for "numeric keypad" output send these
    71: "77", 72: "88", 73: "99", 74: "--", 75: "44", 76: "55", 77: "66", 78: "++",
    79: "11", 80: "22", 81: "33", 82: "00", 83: "..", 98: "//", 55: "**",
}

KEYMAP = {code: (pair[0], pair[1]) for code, pair in _ROWS.items()}
EV_KEY = 1
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_CAPSLOCK = 58
ENTER_KEYS = frozenset({28, 96})  # KEY_ENTER, KEY_KPENTER
SHIFT_KEYS = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
