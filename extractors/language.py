"""The article's language, from its text, cross-checked with what the markup declares.

No language-identification model is installed, so the text is classified by script first
(kana → ja, Hangul → ko, Han → zh, Cyrillic, Arabic, ...) and, for Latin-script and Cyrillic
text, by the share of each language's most frequent function words, each word weighted by how
few languages share it. `<html lang>` (or a content-language meta) decides between close
candidates and stands in when the text is too short to tell; a declaration the text clearly
contradicts (a template default of `en` on a German article) loses.
"""

from __future__ import annotations

import re
from collections import Counter

from extractors.page import Found, Page

_STOPWORDS: dict[str, str] = {
    "en": "the of and to in is that for it was on with as he be at by this had not are but "
    "from or have an they which you were her she there been has their would will his its "
    "we who said when more than after also about into could",
    "de": "der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es "
    "an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über so zum "
    "war haben nur oder aber vor zur bis mehr durch kann ich wir",
    "fr": "le la les de des et est un une du en que qui dans pour pas au sur par plus ne se "
    "ce il sont avec son elle mais ou aux été leur nous cette ont sa comme fait être tout "
    "aussi lui",
    "es": "el la los las de del y en que un una es por con para se no al lo como más pero sus "
    "su le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay donde "
    "quien desde todo nos durante ha fue",
    "it": "il di che la e per un una non in sono del della le si con da dei delle è al alla "
    "anche come più ma nel nella gli lo questo ha ci se sul degli ad essere stato",
    "pt": "o a os as de do da dos das e em um uma que não para com por no na nos nas mais "
    "como mas ao ele ela foi se são seu sua ou quando muito já também só pelo pela até isso "
    "entre depois está",
    "nl": "de het een en van in is dat op te zijn met voor niet aan er om ook als bij of "
    "uit door naar maar dan nog wel tot deze heeft hij ze zijn wordt werd over",
    "sv": "och i att det som en på är av för med till den har de inte om ett var han men "
    "sig från vid så kan hade eller efter också när mot under skulle",
    "da": "og i at det en den til er som på de med han af for ikke der var mig sig men et "
    "har om vi min havde ham hun nu over da fra du ud sin dem os op",
    "no": "og i det som er en på til av med at den for ikke har de om var et han seg men "
    "fra ved så kan hadde eller etter også når mot skal vil",
    "fi": "ja on ei että se oli hän mutta kun myös ovat tai sen joka mukaan ole vain nyt "
    "jo kuin sitä hänen niin mitä jos tämä ole olisi",
    "pl": "i w nie na z się do to że jest jak o co ale od po za przez jego jej są tak był "
    "już dla tym może być tylko lub oraz jednak które który",
    "cs": "a v se na je že to s z do o k jako ale by jsou pro po není jeho také jen už jak "
    "bylo která který které tak od při",
    "ro": "și în de la a cu pe nu care să din este un o că mai pentru au fost se ca sau lui "
    "dar ce acest această sunt",
    "hu": "a az és hogy nem is egy meg de van ez volt már csak el ki mint még azt vagy "
    "kell lesz után pedig között",
    "tr": "ve bir bu da de için ile olarak çok daha gibi ne o en ama olan sonra kadar ancak "
    "her değil mi şey ya",
    "id": "yang dan di ini itu dengan untuk dari dalam tidak akan pada juga ke ada karena "
    "oleh atau saat sudah bisa mereka kami",
    "ca": "el la els les de del i que en un una per amb no es al com més però seu seva "
    "també són hi va això",
    "ru": "и в не на что с по как это он из к у за от то но о она так его для же все был "
    "бы мы они было только или уже ее если",
    "uk": "і в на що не з у до та як це він від за по але для й які його її бути був вже "
    "або також щоб",
    "bg": "и в на да за се не с от е че по са като това но той през при от те със",
}
_owners: Counter[str] = Counter(w for words in _STOPWORDS.values() for w in set(words.split()))
# word -> the languages it belongs to, each with the word's weight (1 / number of languages)
_INDEX: dict[str, list[tuple[str, float]]] = {}
for _lang, _words in _STOPWORDS.items():
    for _word in set(_words.split()):
        _INDEX.setdefault(_word, []).append((_lang, 1.0 / _owners[_word]))
_CYRILLIC_LANGUAGES = frozenset({"ru", "uk", "bg"})

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("kana", re.compile(r"[\u3040-\u30ff]")),
    ("hangul", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("han", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("arabic", re.compile(r"[\u0600-\u06ff]")),
    ("hebrew", re.compile(r"[\u0590-\u05ff]")),
    ("greek", re.compile(r"[\u0370-\u03ff]")),
    ("thai", re.compile(r"[\u0e00-\u0e7f]")),
    ("devanagari", re.compile(r"[\u0900-\u097f]")),
)
# Any character of the scripts above: one scan settles Latin-script text.
_ANY_SCRIPT = re.compile("[" + "".join(p.pattern[1:-1] for _, p in _SCRIPTS) + "]")
_PERSIAN = re.compile(r"[پچژگ]")
_SAMPLE = 5000
MIN_WORDS = 20


def _script_language(text: str, letters: int) -> str | None:
    if not _ANY_SCRIPT.search(text):
        return None
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPTS}
    if counts["kana"] > letters * 0.05:
        return "ja"
    if counts["hangul"] > letters * 0.3:
        return "ko"
    if counts["han"] > letters * 0.3:
        return "zh"
    if counts["arabic"] > letters * 0.5:
        return "fa" if len(_PERSIAN.findall(text)) > counts["arabic"] * 0.01 else "ar"
    single = {"hebrew": "he", "greek": "el", "thai": "th", "devanagari": "hi"}
    for script, language in single.items():
        if counts[script] > letters * 0.5:
            return language
    if counts["cyrillic"] > letters * 0.5:
        return "cyrillic"
    return None


def score_languages(text: str) -> list[tuple[str, float]]:
    """Languages by the weighted share of their function words in `text`, best first."""
    words = _WORD.findall(text.lower())
    if not words:
        return []
    cyrillic = bool(_SCRIPTS[3][1].search(" ".join(words[:50])))
    totals = dict.fromkeys(
        (lang for lang in _STOPWORDS if (lang in _CYRILLIC_LANGUAGES) == cyrillic), 0.0
    )
    for word, count in Counter(words).items():
        for language, weight in _INDEX.get(word, ()):
            if language in totals:
                totals[language] += weight * count
    scores = [(language, total / len(words)) for language, total in totals.items()]
    return sorted(scores, key=lambda item: item[1], reverse=True)


def detect_language(text: str) -> tuple[str, bool] | None:
    """(language, confident) for a text, or None when it cannot be told."""
    sample = text[:_SAMPLE]
    letters = sum(map(str.isalpha, sample))
    if not letters:
        return None
    script = _script_language(sample, letters)
    if script and script != "cyrillic":
        return script, letters >= 20
    scores = score_languages(sample)
    if not scores or scores[0][1] == 0:
        return None
    words = len(_WORD.findall(sample))
    best, runner_up = scores[0][1], scores[1][1] if len(scores) > 1 else 0.0
    confident = words >= MIN_WORDS and best >= 0.05 and best >= runner_up * 1.5
    return scores[0][0], confident


def extract_language(page: Page, text: str) -> Found[str] | None:
    declared = page.html_lang.split("-")[0] if page.html_lang else None
    detected = detect_language(text)
    if detected is None:
        return Found(declared, "html-lang") if declared else None
    language, confident = detected
    if declared == language:
        return Found(language, "text+html-lang")
    if declared and not confident:
        return Found(declared, "html-lang")
    return Found(language, "text")
