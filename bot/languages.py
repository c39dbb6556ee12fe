"""Spoken languages by ISO-639-1 code: the set Whisper-family models recognise.

Members may type a code ("de") or a name ("German"); providers report either.
"""

from __future__ import annotations

from bot.errors import InvalidOption

LANGUAGES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bo": "Tibetan",
    "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fo": "Faroese",
    "fr": "French", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa", "haw": "Hawaiian",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jw": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "la": "Latin", "lb": "Luxembourgish", "ln": "Lingala", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mi": "Maori", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese",
    "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk",
    "no": "Norwegian", "oc": "Occitan", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sd": "Sindhi",
    "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali",
    "sq": "Albanian", "sr": "Serbian", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen",
    "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "yi": "Yiddish", "yo": "Yoruba", "yue": "Cantonese",
    "zh": "Chinese",
}  # fmt: skip

_CODE_BY_NAME = {name.casefold(): code for code, name in LANGUAGES.items()}


def parse_language(value: str | None) -> str | None:
    """The code for a member's choice of language; None (blank) means detect it.

    Raises `InvalidOption` with a helpful reply for anything that is not a known code or name.
    """
    if value is None or not value.strip():
        return None
    key = value.strip().casefold()
    if key in LANGUAGES:
        return key
    if key in _CODE_BY_NAME:
        return _CODE_BY_NAME[key]
    raise InvalidOption(
        f"I don't know the language “{value.strip()[:40]}”. "
        "Pick one from the list, or use a two-letter code such as `en`, `de` or `ja`."
    )


def language_name(value: str | None) -> str | None:
    """A display name for a code or a provider-reported name; None when unknown or absent."""
    if not value:
        return None
    key = value.strip().casefold()
    if key in LANGUAGES:
        return LANGUAGES[key]
    if key in _CODE_BY_NAME:
        return LANGUAGES[_CODE_BY_NAME[key]]
    return value.strip().title()


def matching_languages(typed: str, *, limit: int = 25) -> list[tuple[str, str]]:
    """(name, code) pairs for autocomplete: names or codes starting with `typed` first."""
    needle = typed.strip().casefold()
    starts, contains = [], []
    for code, name in sorted(LANGUAGES.items(), key=lambda item: item[1]):
        folded = name.casefold()
        if not needle or folded.startswith(needle) or code == needle:
            starts.append((name, code))
        elif needle in folded:
            contains.append((name, code))
    return (starts + contains)[:limit]
