"""French typography and glossary, checked the same way in both catalogues and in the README's French.

The rules: « » quotes with a no-break space inside (U+00A0, or the narrow U+202F), a
no-break space before : ; ? ! and between a number and its unit (« 3 h », « {seconds} s »),
no “ ” or " quotes.  Literal material is not French prose and is skipped: code spans
(`incus info`), fenced and indented code, URLs (http://…), {placeholders}, key="value"
pairs, and whatever stands inside « » (commands, names, Incus' own English messages),
whose guillemets are still checked.  A colon followed by no space (10:30, images:debian/12,
ADRESSE:PORT) is not punctuation, so it never counts.  Beside typography, `term_slips` keeps
one term each (the glossary in the README's “Translations” section).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..i18n import M, Message

# Literal spans, masked before the rules run.  Masks keep the length, so positions found in
# the masked text point at the same characters of the original.
FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.MULTILINE | re.DOTALL)
INDENTED = re.compile(r"^(?: {4}|\t).*$", re.MULTILINE)
CODE_SPAN = re.compile(r"`[^`\n]+`")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s»)]*")
LINK_TARGET = re.compile(r"(?<=\])\([^)\s]*\)")
ASSIGNMENT = re.compile(r"[\w.-]+=\"[^\"\n]*\"")
PLACEHOLDER = re.compile(r"(?<!\{)\{[a-z_]+\}(?!\})")  # {{name}} is a literal pair of braces, not one
QUOTED = re.compile(r"(?<=«)([\u00a0\u202f ]?)([^«»]*?)([\u00a0\u202f ]?)(?=»)")
VERDICT_SYMBOL = re.compile(r"\?(?=\s+non vérifié)")  # the verdict symbol “?” in a legend

UNITS = r"(?:ms|s|min|h|j|o|Ko|Mo|Go|To|Kio|Mio|Gio|Tio|secondes?|minutes?|heures?|jours?|semaines?|%)"


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    needs: Message


RULES = (
    Rule(re.compile(r"[ \t]+[:;?!](?=[\s)\]»*_]|$)|[^\s\u00a0\u202f][:;?!](?=[\s*_]|$)"),
         M("typography.punctuation", "a no-break space before : ; ? !")),
    Rule(re.compile(r"«(?![\u00a0\u202f])|(?<![\u00a0\u202f])»"),
         M("typography.guillemets", "a no-break space inside « »")),
    Rule(re.compile(r"[“”\"]"), M("typography.quotes", "« » quotes, not “ ” or \"")),
    Rule(re.compile(rf"\d[ \t]+{UNITS}(?![\w’'])"),
         M("typography.unit", "a no-break space between a number and its unit")),
)


@dataclass(frozen=True)
class Slip:
    """One place where French typography is not followed."""

    needs: Message
    excerpt: str
    offset: int  # where in the text


def _mask(text: str, pattern: re.Pattern[str], fill: str = "X") -> str:
    return pattern.sub(lambda m: re.sub(r"[^\n]", fill, m.group(0)), text)


# A pure function the checks call more than once for the same text: slips() and concept_slips()
# for each French text, and again whenever a catalogue is checked again.
@lru_cache(maxsize=16384)
def prose(text: str, placeholders: bool = False) -> str:
    """The text with its literal parts masked (same length, same line breaks); {placeholders}
    are kept when asked, else masked as a number."""
    for pattern in (FENCED, INDENTED, CODE_SPAN, URL, LINK_TARGET, ASSIGNMENT, VERDICT_SYMBOL):
        text = _mask(text, pattern)
    if not placeholders:
        text = _mask(text, PLACEHOLDER, "0")  # a placeholder may be a number: « {seconds} s »
    return QUOTED.sub(lambda m: m.group(1) + re.sub(r"[^\n]", "X", m.group(2)) + m.group(3), text)


def slips(text: str) -> list[Slip]:
    """Every rule broken in `text`, with a short excerpt of the original around it."""
    masked = prose(text)
    found = []
    for rule in RULES:
        for match in rule.pattern.finditer(masked):
            start, end = max(0, match.start() - 20), min(len(text), match.end() + 20)
            excerpt = text[start:end].replace("\n", " ").strip()
            found.append(Slip(rule.needs, excerpt, match.start()))
    return found


# -- one term each -------------------------------------------------------------------------
# The French glossary (README, “Translations”): a word that drifts from it is reported with the
# term to use.  Commands and code keep their words (incus remote add), so they are masked first.
TRAINER = re.compile(r"\bformateur ou (?:(?:à |de )?(?:la|votre) )?formatrice\b", re.IGNORECASE)  # the doublet
TERMS = (
    (re.compile(r"\bfuzzy\b", re.IGNORECASE), "approximative"),
    (re.compile(r"(?<!incus )\bremotes?\b", re.IGNORECASE), "serveur distant"),
    (re.compile(r"\{\{[^{}]*\}\}"), "ce que la variable désigne, sans {{…}}"),
    (re.compile(r"\ben marche\b|\btourn(?:e|es|ent|er|ait|aient)\b", re.IGNORECASE), "en cours d’exécution"),
    (re.compile(r"\bpreuves?\b", re.IGNORECASE), "traces"),
    (re.compile(r"\b(?:re)?lance[zr]? l’installation\b", re.IGNORECASE), "labkit setup"),
    (re.compile(r"\bformat(?:eur|rice)s?\b|équipe enseignante|\binstructeur", re.IGNORECASE),
     "le formateur ou la formatrice"),
    (re.compile(r"\b(?:STEP|REMOTE|ADDRESS|ADDR|FILE|NAME|FOLDER|PATH)\b"),  # usage placeholders
     "ÉTAPE, SERVEUR, ADRESSE, FICHIER, NOM…"),
)


def term_slips(text: str, english: str | None = None, never_one: bool = False) -> list[tuple[str, str, int]]:
    """(word found, term to use, offset) for every word of `text` that strays from the glossary.

    `english` is the source a catalogue entry translates (None for French written as French, the
    README's or a guide's): some concepts can only be told apart by what the English says.
    `never_one`: see concept_slips."""
    words = text
    for pattern in (FENCED, INDENTED, CODE_SPAN, URL, LINK_TARGET, ASSIGNMENT, PLACEHOLDER, TRAINER):
        words = _mask(words, pattern)
    found = [(match.group(0), term, match.start()) for pattern, term in TERMS for match in pattern.finditer(words)]
    return sorted(found + concept_slips(text, english, never_one), key=lambda slip: slip[2])


# -- one word per concept ----------------------------------------------------------------
# Some French words are right for one concept and wrong for its neighbour, so the rule needs to
# know the concept: from the English of a catalogue entry, or from the words around it.
REFRESH = "actualiser / actualisation"
LOG = "fichier journal (journal de progression pour celui de labkit)"
AGREEMENT = "un accord juste pour 1 (par exemple « apprenants : {count} »)"
TIME = "20 h 50"
# « mettre à jour » and its forms, with up to two words between (« mettez la copie à jour »).
UPDATE = re.compile(r"\b(?:mettre|mets|met|mettez|mettons|mettent|mettra|mettrez|mettant|mis|mise|mises)"
                    r"(?:\s+(?:la|le|les|l’|cette|votre|vos|une|sa|ses|leur|leurs)?\s*\w+)?\s+à\s+jour\b",
                    re.IGNORECASE)
ENGLISH_REFRESH = re.compile(r"(?<![\w-])refresh", re.IGNORECASE)  # not the option --refresh
ENGLISH_UPDATE = re.compile(r"\bupdat|\bupgrad|\bup to date\b", re.IGNORECASE)
NEAR_COPY = re.compile(r"\bcopies?\b|serveur d’instantanés", re.IGNORECASE)
# A journal is labkit's progress journal (« journal de progression ») or a daemon's log (« fichier
# journal »); a bare « journal » is one of the two without saying which.
BARE_JOURNAL = re.compile(r"(?<!fichier )(?<!fichiers )(?<!fichier\u00a0)\bjournal\b(?! de progression)|"
                          r"(?<!fichiers )\bjournaux\b(?! de progression)", re.IGNORECASE)
ENGLISH_QUOTED = re.compile(r"“[^”\n]*”")
ENGLISH_LOG = re.compile(r"\blogs?\b", re.IGNORECASE)
ENGLISH_JOURNAL = re.compile(r"\bjournals?\b", re.IGNORECASE)
# « 1 apprenants », « {count} apprenants »: a plural noun after 1 or after a count that may be 1.
# Placeholders that count are named count, total… or with an English plural (projects, seconds).
COUNT = r"(?:\b1|\{(?:count|total|failed|ready|removed|n|number|[a-z_]*[a-rt-z]s)\})"
INVARIABLE = ("fois", "temps", "processus", "cours", "accès", "succès", "mois", "pas", "prix", "choix", "corps",
              "puis", "depuis", "dans", "sous", "sans", "plus", "moins", "très", "après", "près", "dès", "lors",
              "alors", "vers", "jamais", "toujours", "parfois", "ailleurs", "tous", "les", "des", "ces", "mes",
              "tes", "ses", "nos", "vos", "leurs", "aux", "deux", "trois", "six", "dix", "mais", "ms", "vous", "nous")
PLURAL = re.compile(COUNT + r"[ \t\u00a0\u202f]+(?!(?:" + "|".join(INVARIABLE) + r")\b)([a-zà-ÿ]+[sx])\b")
# A time of day written 20:50 (or 21:00:00) in prose; in code it stays as the program wants it.
CLOCK = re.compile(r"(?<![\w.:/-])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\w:/-]|\.\w)")


def concept_slips(text: str, english: str | None = None, never_one: bool = False) -> list[tuple[str, str, int]]:
    """Words of `text` that name a concept with its neighbour's word (see the constants above).

    `never_one`: the message is never used for one (the code has a singular message for that)."""
    words = prose(text)  # code, URLs and whatever stands inside « » are not prose
    if english is not None:
        english = _mask(prose(english), ENGLISH_QUOTED)  # “incus copy --refresh” is a command
    found: list[tuple[str, str, int]] = []

    def add(match: re.Match[str], term: str) -> None:
        found.append((text[match.start():match.end()], term, match.start()))

    for match in UPDATE.finditer(words):
        if english is None:
            if NEAR_COPY.search(words[max(0, match.start() - 60):match.end() + 60]):
                add(match, REFRESH)
        elif ENGLISH_REFRESH.search(english) and not ENGLISH_UPDATE.search(english):
            add(match, REFRESH)
    if english is not None and ENGLISH_REFRESH.search(english) and not re.search(r"actualis", words, re.IGNORECASE):
        found.append((text[:40] + "…", REFRESH, 0))  # says refresh in the English only
    if english is None or (ENGLISH_LOG.search(english) and not ENGLISH_JOURNAL.search(english)):
        for match in BARE_JOURNAL.finditer(words):
            add(match, LOG)
    for match in [] if never_one else PLURAL.finditer(prose(text, placeholders=True)):
        add(match, AGREEMENT)
    for match in CLOCK.finditer(words):
        add(match, TIME)
    return found


# -- the README's French passages ---------------------------------------------------
# A French passage of the README sits between the two HTML comments below (invisible once
# rendered).  Any other paragraph that looks French (« » outside `code`, a **Français**
# label, or three common French words) is reported, so French cannot escape by not being marked.
FRENCH_START, FRENCH_END = "<!-- fr -->", "<!-- /fr -->"
LOOKS_FRENCH = re.compile(r"[«»]|^\*\*(?:En f|F)rançais", re.MULTILINE)
FRENCH_WORDS = re.compile(r"\b(vous|les|des|est|une|pour|avec|dans|sur|qui)\b", re.IGNORECASE)


def looks_french(text: str) -> bool:
    text = _mask(text, CODE_SPAN)
    return bool(LOOKS_FRENCH.search(text)) or len(set(w.lower() for w in FRENCH_WORDS.findall(text))) >= 3


@dataclass(frozen=True)
class Passage:
    line: int  # 1-based number of the passage's first line
    text: str
    marked: bool


def readme_passages(markdown: str) -> list[Passage]:
    """Marked French passages, and unmarked paragraphs that look French (code blocks aside)."""
    passages: list[Passage] = []
    lines = _mask(markdown, FENCED).split("\n")
    originals = markdown.split("\n")
    inside, start, block = False, 0, []
    for n, line in enumerate(lines, 1):
        if line.strip() == FRENCH_START:
            inside, start = True, n + 1
            continue
        if line.strip() == FRENCH_END and inside:
            passages.append(Passage(start, "\n".join(originals[start - 1:n - 1]), True))
            inside = False
            continue
        if inside:
            continue
        if line.strip():
            block.append((n, line))
        if (not line.strip() or n == len(lines)) and block:
            text = "\n".join(text for _, text in block)
            if looks_french(text):
                passages.append(Passage(block[0][0], text, False))
            block = []
    if inside:
        passages.append(Passage(start, "\n".join(originals[start - 1:]), True))
    return passages


def line_of(passage: Passage, offset: int) -> int:
    """The README line of a place in a passage, for messages people can act on."""
    return passage.line + passage.text.count("\n", 0, offset)
