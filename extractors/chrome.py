"""Page chrome that survives trafilatura's cleaning, recognised by general rules.

- label blocks made only of toolbar words (`print PRINT`, `Share Tweet Email`, `Read more`);
- a heading that announces non-article matter (`Related articles`, `Most read`, `Tags`)
  together with the short blocks under it;
- a trailing run of short list items or bullet-separated fragments: tag lists and trending
  boxes such as `• Ambassador • Ukraine • COVID-19 • Trending Japan`;
- before the story: a repeat of the headline with its kicker, date lines, credit lines;
- after it: credit, copyright, subscription and follow-us lines;
- anywhere: photo credits, image captions, `READ MORE: ...` links to other stories.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from extractors.page import clean_text, text_key

BlockKind = Literal["heading", "paragraph", "item"]


@dataclass
class Block:
    kind: BlockKind
    text: str


_CHROME_WORDS_TEXT = """
    print printer friendly version e share shares sharing tweet twitter x email e-mail mail
    facebook linkedin whatsapp pinterest reddit telegram flipboard pocket messenger sms copy
    link url save saved bookmark comment comments subscribe follow us on this article story
    page via the to a an font size text listen gift read more minutes min close menu
    advertisement anzeige werbung drucken teilen twittern merken kommentare kommentar artikel
    imprimer partager envoyer commenter compartir imprimir enviar stampa condividi invia
    """
_CHROME_WORDS = frozenset(_CHROME_WORDS_TEXT.split())
_CHROME_HEADINGS = re.compile(
    r"^(?:related(?: articles?| stories| content| posts| news| coverage| links| topics)?"
    r"|more (?:from|on|in|stories|news|articles|like this)\b.*|read (?:more|next|also)\b.*"
    r"|most (?:read|popular|viewed|shared|commented)\b.*|trending\b.*|popular\b.*"
    r"|recommended\b.*|you (?:may|might) (?:also )?like\b.*|tags?|topics?|keywords?"
    r"|share (?:this|the) (?:article|story|page)|advertisement|comments?|leave a (?:comment|reply)"
    r"|newsletter\b.*|sign up\b.*|weitere artikel|mehr zum thema|lesen sie auch\b.*"
    r"|das könnte sie auch interessieren|à lire aussi|lire aussi|sur le même sujet"
    r"|también te puede interesar|noticias relacionadas|leggi anche|articoli correlati)$",
    re.I,
)
_BULLETS = re.compile(r"\s*[•·▪►|]\s*")
_SENTENCE_END = re.compile(r"[.!?…:;\"”’)]$")
_DATE_WORDS_TEXT = """
    jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july
    august september october november december januar februar märz mai juni juli oktober
    dezember janvier février mars avril juin juillet août septembre octobre novembre décembre
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
    mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday montag
    dienstag mittwoch donnerstag freitag samstag sonntag at um à am pm jst utc gmt est edt cet
    cest bst pst pdt uhr h published updated posted last on veröffentlicht aktualisiert publié
    le mis jour de del el
    """
_DATE_WORDS = frozenset(_DATE_WORDS_TEXT.split())
_CREDIT = re.compile(
    r"^(?:[\w-]+\s+){0,3}by\s+[A-ZÀ-Þ][\w.'’-]*(?:[ ,&]+(?:and\s+)?[A-ZÀ-Þ][\w.'’-]*)*[.;]?$"
)
_PHOTO_CREDIT = re.compile(
    r"©|\b(?:getty images|shutterstock|istock(?:photo)?|adobe ?stock|imago(?: images)?"
    r"|picture[ -]alliance|dpa-bildfunk|keystone|ap photo|afp photo|reuters/)"
    r"|^(?:photos?|fotos?|bild|bilder|image|picture|credits?|crédits? photos?|titelbild"
    r"|fotocredit|source|quelle)\s*:",
    re.I,
)
_PROMO = re.compile(
    r"^(?:read more|read also|also read|see also|related|more|watch|listen|lesen sie (?:auch|mehr)"
    r"|auch lesen|mehr zum thema|zum thema|le puede interesar|lea también|lee también"
    r"|leia também|leggi anche|lire aussi|à lire aussi|voir aussi)\s*[:»›|>]",
    re.I,
)
_TAIL_BOILERPLATE = re.compile(
    r"copyright|©|all rights reserved|alle rechte vorbehalten|tous droits réservés"
    r"|todos los derechos|without (?:written )?permission|subscribe|subscriber|newsletter"
    r"|sign up|follow (?:us|\w+ on)|download (?:the|our)\b.{0,40}\bapps?\b|abonnieren"
    r"|abonnement|folgen sie|s[ií]guenos|suivez-nous|if you enjoyed|support (?:us|our)"
    r"|unterstütze|the views expressed|disclaimer|keine kommentare|no comments"
    r"|^(?:other|more|related|recent|latest|top) (?:stories|articles|news|posts)\b",
    re.I,
)
_WORD = re.compile(r"[\w'’+-]+")
SHORT_WORDS = 25
_TAG_WORDS = 5
_LEAD = 8
_LABEL_WORDS = 8
_CREDIT_WORDS = 20
_PROMO_WORDS = 30
_TAIL_WORDS = 60


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    """Lower-cased words; cached, as every rule asks again about the same blocks."""
    return tuple(_WORD.findall(text.lower()))


def is_chrome_label(text: str) -> bool:
    """A short block made only of toolbar words, e.g. `print PRINT`, `Share on Twitter` or
    `Printer-friendly version E-mail this story`."""
    words = [part for word in _words(text) for part in word.split("-") if part]
    return 0 < len(words) <= 10 and all(w in _CHROME_WORDS for w in words)


def is_chrome_heading(text: str) -> bool:
    return bool(_CHROME_HEADINGS.match(text.strip(" :.-–—»›").strip()))


def _is_tag_like(text: str) -> bool:
    return len(_words(text)) <= _TAG_WORDS and not _SENTENCE_END.search(text)


def _is_bullet_run(text: str) -> bool:
    fragments = [f for f in _BULLETS.split(text) if f.strip()]
    return len(fragments) >= 2 and bool(_BULLETS.search(text)) and all(map(_is_tag_like, fragments))


def _is_tail_boilerplate(text: str) -> bool:
    return len(_words(text)) <= _TAIL_WORDS and bool(_TAIL_BOILERPLATE.search(text))


def _trim_tail(blocks: list[Block]) -> list[Block]:
    """Drop what follows the story: tag lists, trending boxes, credit and copyright lines,
    subscription and social-media calls, and headings left with nothing under them."""
    end = len(blocks)
    floor = len(blocks) * 2 // 3
    while end > floor:
        last = blocks[end - 1]
        if (
            last.kind == "heading"
            or _is_bullet_run(last.text)
            or is_credit_line(last.text)
            or _is_tail_boilerplate(last.text)
        ):
            end -= 1
            continue
        start = end
        while start and blocks[start - 1].kind == "item" and _is_tag_like(blocks[start - 1].text):
            start -= 1
        if end - start >= 2 and start > 0:
            end = start
            continue
        break
    return blocks[:end]


def _trim_lead(
    blocks: list[Block], title: str | None, also_lead: Callable[[str], bool]
) -> list[Block]:
    """Drop what precedes the story: a repeat of the headline with the kicker labels above
    it, dates, bylines, credits and standfirsts (`also_lead` says which)."""
    title_key = text_key(title) if title else None
    for i, block in enumerate(blocks[:_LEAD]):
        if title_key and text_key(block.text) == title_key:
            before = [b for b in blocks[:i] if len(_words(b.text)) > _LABEL_WORDS]
            blocks = before + blocks[i + 1 :]
            break
    start = 0
    while start < min(len(blocks), _LEAD) and len(blocks) - start > 1:
        block = blocks[start]
        kicker = (
            block.kind == "paragraph"
            and len(_words(block.text)) <= 3
            and not _SENTENCE_END.search(block.text)
        )
        if not (
            kicker
            or _is_date_only(block.text)
            or is_credit_line(block.text)
            or also_lead(block.text)
        ):
            break
        start += 1
    return blocks[start:]


def is_credit_line(text: str) -> bool:
    """`Data analysis by Inès Moreau. Graphics by Pavel Dvořák.`, `Editing by Jane Doe`."""
    if len(_words(text)) > _CREDIT_WORDS:
        return False
    sentences = [s for s in re.split(r"(?<=[.;])\s+", text.strip()) if s]
    return bool(sentences) and all(_CREDIT.match(s) for s in sentences)


def is_photo_credit(text: str) -> bool:
    return len(_words(text)) <= _CREDIT_WORDS and bool(_PHOTO_CREDIT.search(text))


def is_inline_promo(text: str) -> bool:
    """`READ MORE: ...`, `Lesen Sie auch: ...`: a link to another story inside the text."""
    return len(_words(text)) <= _PROMO_WORDS and bool(_PROMO.match(text))


def _drop_announced(blocks: list[Block]) -> list[Block]:
    """Remove chrome headings and the short blocks that follow them."""
    kept: list[Block] = []
    skipping = False
    for block in blocks:
        if (block.kind == "heading" or len(_words(block.text)) <= 5) and is_chrome_heading(
            block.text
        ):
            skipping = True
            continue
        if skipping:
            if block.kind == "heading" or len(_words(block.text)) > SHORT_WORDS:
                skipping = False
            else:
                continue
        kept.append(block)
    return kept


def _is_date_only(text: str) -> bool:
    """`October 30, 2017 at 17:20 JST`, `Published: 30.10.2017`: nothing but a date."""
    words = re.findall(r"[^\W\d_]+|\d+", text.lower())
    has_number = any(w.isdigit() for w in words)
    return has_number and len(words) <= 12 and all(w.isdigit() or w in _DATE_WORDS for w in words)


def _never(text: str) -> bool:
    return False


def remove_chrome(
    blocks: list[Block],
    title: str | None = None,
    *,
    captions: frozenset[str] = frozenset(),
    also_lead: Callable[[str], bool] = _never,
) -> list[Block]:
    """The blocks without page chrome, in their order. `captions` are the page's image
    captions (never body text); `also_lead` marks further blocks to drop before the story."""
    blocks = [
        b
        for b in blocks
        if not (
            is_chrome_label(b.text)
            or is_inline_promo(b.text)
            or is_photo_credit(b.text)
            or clean_text(b.text) in captions
        )
    ]
    return _trim_tail(_trim_lead(_drop_announced(blocks), title, also_lead))
