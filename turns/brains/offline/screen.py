"""The screen as the planner sees it: which element a phrase names, and the selector that reaches it."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from devices.uitree import Node, find_nodes, tappable

from .words import GENERIC, ORDINAL, POSITION, likeness, norm, ordinal

# The words that name a kind of element, and the kind they stand for.
KINDS = {
    "text field": "field",
    "text box": "field",
    "textbox": "field",
    "input field": "field",
    "edit text": "field",
    "field": "field",
    "input": "field",
    "box": "field",
    "button": "button",
    "btn": "button",
    "switch": "switch",
    "toggle": "switch",
    "checkbox": "switch",
    "check box": "switch",
    "list item": "item",
    "list entry": "item",
    "list row": "item",
    "list element": "item",
    "menu item": "item",
    "menu entry": "item",
    "item": "item",
    "row": "item",
    "list": "item",
    "entry": "item",
    "option": "item",
    "icon": "icon",
    "app": "icon",
    "label": "text",
    "title": "text",
    "heading": "text",
    "header": "text",
    "headline": "text",
    "banner": "text",
    "caption": "text",
    "message": "text",
    "text": "text",
    "link": "link",
    "element": "any",
    "one": "any",
    "thing": "any",
    "screen": "any",
    "page": "any",
}
_KIND = "|".join(re.escape(word) for word in sorted(KINDS, key=len, reverse=True))
_ARTICLES = re.compile(r"^(?:(?:the|a|an|on|my|that|this|it's|its)\s+)+", re.I)
_NOUN_ONLY = re.compile(rf"^(?P<noun>{_KIND})s?$", re.I)
_WITH_NOUN = re.compile(rf"^(?P<name>.+?)\s+(?P<noun>{_KIND})s?$", re.I)
_ORDINAL = re.compile(
    rf"^(?P<ord>{ORDINAL})(?:\s+(?:visible|shown|displayed))?(?:\s+(?P<noun>{_KIND}))?"
    r"(?:\s+(?:in|on|of)\s+(?:the\s+)?(?:list|screen|page))?$"
    rf"|^(?P<noun2>{_KIND})\s+(?:number|no\.?|#)\s*(?P<n>\d+)$",
    re.I,
)
# "the second switch from the bottom", "the second-to-last item", "the penultimate row": counted from the end
_FROM_END = re.compile(
    rf"^(?:(?P<ord>{ORDINAL})(?:\s+(?P<noun>{_KIND}))?\s+from\s+(?:the\s+)?(?:bottom|end)|"
    rf"(?P<ord2>{ORDINAL})[\s-]+(?:to[\s-]+)?last(?:\s+(?P<noun2>{_KIND}))?|penultimate(?:\s+(?P<noun3>{_KIND}))?)$",
    re.I,
)
_FROM_TOP = re.compile(rf"^(?P<ref>(?:{ORDINAL})(?:\s+(?:{_KIND}))?)\s+from\s+(?:the\s+)?top$", re.I)
_ORDINAL_NAMED = re.compile(rf"^(?P<ord>{ORDINAL}|{POSITION})\s+(?P<name>.+?)(?:\s+(?P<noun>{_KIND}))?$", re.I)
_RELATIVE = re.compile(
    rf"^(?:(?P<name>.+?)\s+)??(?:(?P<noun>{_KIND})\s+)?(?P<rel>(?:(?:right|just|directly|immediately)\s+)?"
    r"(?:below|under|underneath|beneath|above|over)|"
    r"next\s+to|beside|(?:to\s+the\s+)?right\s+of|(?:to\s+the\s+)?left\s+of|after|before)\s+(?P<anchor>.+)$",
    re.I,
)
# "OK on the update dialog", "Cancel in the backup popup": the button below the dialog's title
_IN_DIALOG = re.compile(
    r"(?P<name>.+?)\s+(?:on|in|of|from|inside|within)\s+(?:the\s+|this\s+|that\s+)?(?P<anchor>.+?)"
    r"(?:\s+(?P<noun>dialog|popup|pop-up|prompt|alert|modal|window|sheet|card|one)(?:\s+box)?)?",
    re.I,
)
_PLACE_WORD = re.compile(
    rf"\b(?:{ORDINAL}|{POSITION}|other|next|previous|same|left|right|upper|lower|\d+(?:st|nd|rd|th)?)\b", re.I
)
DISMISS = ("cancel", "close", "dismiss", "no", "not now", "later")
"""What "dismiss the X dialog" taps: its button so called, or its one button."""
_LISTS = ("RecyclerView", "ListView", "ScrollView", "GridView")
_LOOKS = re.compile(
    r"\b(?:big|small|large|little|tiny|huge|red|green|blue|grey|gray|black|white|yellow|orange|purple|pink|bold|round|"
    r"rounded|square|main|primary|only)\s+",
    re.I,
)
_BY_ID = re.compile(
    r"(?:(?:the\s+)?[\w-]+\s+)?(?:(?:with|whose|of|that\s+has)\s+(?:the\s+|an\s+)?)?(?:resource[\s-]?)?id\s+"
    r"(?:is\s+|=\s*|of\s+)?[\"']?(?P<value>[\w.:/-]+)[\"']?",
    re.I,
)
_BY_DESC = re.compile(
    r"(?:(?:the\s+)?[\w-]+\s+)?(?:with|whose|that\s+has)\s+(?:the\s+|a\s+)?(?:content[\s-]?)?(?:description|desc|"
    r"accessibility\s+label)\s+(?:is\s+|=\s*|of\s+)?(?P<value>.+)",
    re.I,
)
_WITH = re.compile(
    r"(?:the\s+)?(?P<noun>row|entry|item|button|line|option|switch|toggle|field|box)\s+(?:with|containing|that\s+has|showing)\s+"
    r"(?:the\s+)?(?:text\s+|word\s+|label\s+)?(?P<value>.+)",
    re.I,
)
_LABELLED = re.compile(
    r"(?:the\s+)?(?:(?P<noun>[\w-]+)\s+)?(?:labell?ed|called|named|titled|that\s+says|which\s+says|saying|reading|"
    r"with\s+(?:the\s+)?(?:text|label|title|name|caption)|that\s+reads)\s+(?P<value>.+)",
    re.I,
)
_FOR = re.compile(
    r"(?:the\s+)?(?:text\s+|input\s+)?(?P<noun>switch|toggle|button|field|box|checkbox|option|row|entry|input)\s+"
    r"(?:for|of|next\s+to)\s+"
    r"(?:the\s+)?(?P<value>.+)",
    re.I,
)
_TEXT_PREFIX = re.compile(r"(?:the\s+)?(?:text|label|word|words|caption)\s+(?P<value>(?!field|box|input).+)", re.I)
_ROW_N = re.compile(r"(?:the\s+)?(?:row|entry|line|option)\s+(?:number\s+|no\.?\s*|#\s*)?(?P<n>\d+)", re.I)
_TITLE = re.compile(r"(?:the\s+)?(?:screen'?s?\s+|page\s+)?(?:title|heading|header|headline)", re.I)


def _short_id(node: Node) -> str:
    return node.resource_id.split(":id/", 1)[-1].lower()


ACT = 0.8
"""The confidence (`words.likeness`) from which a phrase names an element without asking."""
ASK = 0.55
"""From here up to ACT, the element is a candidate to ask about ("did you mean …?"); below, nothing fits."""
TIE = 0.01
MAX_CHOICES = 8
_ANY = ("one", "element", "thing")
_HINTS = {"email", "password", "username", "search", "name", "enter text", "type here", "type a message"}


class Ask(Exception):
    """The phrase names more than one element, or only doubtfully one, or a value is missing: ask the user.

    `choices` are the candidate elements (indices in the screen's nodes), in the order the question lists
    them; `labels` the answers that pick each; `code` is "ambiguous" or "needs_value".
    """

    def __init__(
        self,
        question: str,
        choices: list[int] | None = None,
        *,
        labels: list[str] | None = None,
        code: str = "ambiguous",
    ) -> None:
        super().__init__(question)
        self.question = question
        self.choices = choices or []
        self.labels = labels or []
        self.code = code


class Missing(Exception):
    """Nothing on the screen fits the phrase; the message says so for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def strip_articles(ref: str) -> str:
    return _ARTICLES.sub("", ref.strip()).strip()


def needs_screen(ref: str) -> bool:
    """Whether the phrase can only be resolved by looking ("the second item", "the field below Email")."""
    ref = strip_articles(ref)
    return any(pattern.match(ref) for pattern in (_ORDINAL, _ORDINAL_NAMED, _NOUN_ONLY, _FROM_END)) or bool(
        _relative(ref)
    )


def _from_end(match: re.Match[str]) -> int:
    """How far from the end an ordinal counted from the end is (2 for "the second from the bottom"); 0 for "last
    from the bottom", which is no such count."""
    word = match["ord"] or match["ord2"]
    back = ordinal(word) if word else 2
    return back if back > 0 else 0


def _relative(ref: str) -> re.Match[str] | None:
    match = _RELATIVE.match(ref)
    return match if match and (match["name"] or match["noun"]) else None


def split_noun(ref: str) -> tuple[str, str | None]:
    """("Wi-Fi switch") -> ("Wi-Fi", "switch"): the name and the kind of element it is said to be."""
    ref = strip_articles(ref)
    match = _WITH_NOUN.match(ref)
    if match and not _NOUN_ONLY.match(ref):
        return strip_articles(match["name"]), KINDS[match["noun"].lower()]
    return ref, None


class Screen:
    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.shown = [i for i, node in enumerate(nodes) if not node.is_empty]

    @property
    def package(self) -> str:
        return self.nodes[0].package if self.nodes else ""

    def labels(self) -> list[str]:
        found: list[str] = []
        for i in self.shown:
            for label in (self.nodes[i].text, self.nodes[i].content_desc):
                if label.strip() and label not in found:
                    found.append(label)
        return found

    def scrollable(self) -> bool:
        return any(self.nodes[i].scrollable for i in self.shown)

    # What an element is, and what it is called ------------------------------------

    def _list_child(self, i: int) -> bool:
        parent = self.nodes[i].parent
        if parent is None:
            return False
        holder = self.nodes[parent]
        return holder.scrollable or any(name in holder.class_name for name in _LISTS)

    def is_kind(self, i: int, kind: str) -> bool:
        node = self.nodes[i]
        if kind == "field":
            return node.class_name.endswith(("EditText", "AutoCompleteTextView"))
        if kind == "button":
            return "Button" in node.class_name
        if kind == "switch":
            return node.checkable
        if kind == "item":
            return node.clickable and self._list_child(i)
        if kind == "icon":
            return node.clickable and bool(node.content_desc)
        if kind == "text":
            return node.class_name.endswith("TextView") and not node.clickable and bool(node.text)
        if kind == "link":
            return node.class_name.endswith("TextView") and node.clickable
        return bool(self.names(i))

    def _related_texts(self, i: int) -> list[str]:
        """Texts beside (same parent) or inside the element: how an unlabeled switch, field or row is called."""
        node, texts = self.nodes[i], []
        for j in self.shown:
            other = self.nodes[j]
            if j == i or not other.text or (other.parent != node.parent and not self._inside(j, i)):
                continue
            if other.clickable or other.checkable or self.is_kind(j, "field"):
                continue  # another control's own name, not a label of this one
            texts.append(other.text)
        return texts

    def _inside(self, j: int, i: int) -> bool:
        parent = self.nodes[j].parent
        while parent is not None:
            if parent == i:
                return True
            parent = self.nodes[parent].parent
        return False

    def names(self, i: int) -> list[tuple[str, float]]:
        node = self.nodes[i]
        names = [(label, 1.0) for label in (node.text, node.content_desc) if label.strip()]
        short = node.resource_id.split(":id/", 1)[1] if ":id/" in node.resource_id else ""
        if short and not node.resource_id.startswith("android:"):
            human = short.replace("_", " ")
            names.append((human, 0.95))
            bare = re.sub(rf"\s+(?:{_KIND})$", "", human)
            if bare != human:
                names.append((bare, 0.95))
        if node.checkable or self.is_kind(i, "field") or (node.clickable and not node.text and not node.content_desc):
            names += [(text, 0.97) for text in self._related_texts(i)]
        return names

    def score(self, i: int, query: str, *, exact: bool = False) -> float:
        best = 0.0
        for name, weight in self.names(i):
            value = likeness(query, name)
            if exact and value < 0.97:
                value = 0.0
            best = max(best, value * weight)
        return best

    # Resolution ------------------------------------------------------------------

    def find(
        self, ref: str, *, purpose: str, kind: str | None = None, exact: bool = False, ask_from: float | None = None
    ) -> int:
        """The element a phrase names. Raises Ask when several fit equally, Missing when none does.

        `purpose` is tap, field, switch or see; field and switch also restrict the kind.
        """
        ref = strip_articles(ref)
        if not exact and (plain := _LOOKS.sub("", ref)) != ref and _NOUN_ONLY.match(plain):
            ref = plain  # "the blue button": colours and sizes say nothing of which when the kind says it all
        kind = kind or {"field": "field", "switch": "switch"}.get(purpose)
        ref = _FROM_TOP.sub(r"\g<ref>", ref)
        if (match := _FROM_END.fullmatch(ref)) and (back := _from_end(match)):
            word = match["noun"] or match["noun2"] or match["noun3"]
            return self._ordinal(-back, KINDS[word.lower()] if word and word.lower() not in _ANY else kind, ref)
        if not exact:
            attributed = self._attributed(ref, purpose=purpose, kind=kind, ask_from=ask_from)
            if attributed is not None:
                return attributed
            if (match := _IN_DIALOG.fullmatch(ref)) and not (
                (match["noun"] or "").lower() in ("one", "") and _PLACE_WORD.search(match["anchor"])
            ):  # "OK on the backup one" is in that dialog; "OK on the second one" is no dialog's title; "Cancel on
                # Backup complete" (its title) too
                # without "dialog", what follows "on" must be a title as said ("the third item in the list" is not)
                with contextlib.suppress(Missing, *(() if match["noun"] else (Ask,))):
                    return self._in_dialog(match["anchor"], strip_articles(match["name"]))
            if match := _relative(ref):
                noun = KINDS[match["noun"].lower()] if match["noun"] else "any"
                try:
                    return self._relative(noun, match["rel"], match["anchor"], match["name"])
                except Missing:
                    if match["noun"] and not match["name"]:
                        raise
            if match := _ORDINAL.match(ref):
                word = match["noun"] or match["noun2"]
                position = ordinal(match["ord"]) if match["ord"] else int(match["n"])
                of_kind = KINDS[word.lower()] if word and word.lower() not in _ANY else kind
                return self._ordinal(position, of_kind, ref)
            if match := _ORDINAL_NAMED.match(ref):
                of_kind = KINDS[match["noun"].lower()] if match["noun"] else kind
                called: str | None = match["name"]
                two = _NOUN_ONLY.match(f"{match['name']} {match['noun']}") if match["noun"] else None
                if two:  # "the top text box": a noun of two words
                    of_kind, called = KINDS[two["noun"].lower()], None
                elif _NOUN_ONLY.match(match["name"]):  # "the top button"
                    of_kind, called = KINDS[match["name"].lower().rstrip("s")], None
                return self._ordinal(ordinal(match["ord"]), of_kind, ref, name=called)
            if match := _NOUN_ONLY.match(ref):
                noun = match["noun"].lower()
                return self._only(kind if noun in _ANY and kind else KINDS[noun], ref, purpose)
            name, said_kind = split_noun(ref)
            if (
                said_kind
                and said_kind != "any"
                and all(word in GENERIC for word in norm(name).split())
                and self.confidence(name, kind=said_kind) < ACT
            ):
                return self._only(said_kind, ref, purpose)  # "the app icon": any icon (asked when there are several)
            if said_kind:
                try:
                    return self._best(
                        name, purpose=purpose, kind=said_kind if said_kind != "any" else kind, ask_from=ask_from
                    )
                except Missing:
                    if said_kind in ("link", "button", "icon", "text"):
                        # "the log out link" when Sign out is a button: the name, whatever the element is called
                        with contextlib.suppress(Missing):
                            return self._best(name, purpose=purpose, kind=kind, ask_from=ask_from)
        return self._best(ref, purpose=purpose, kind=kind, exact=exact, ask_from=ask_from)

    def _attributed(self, ref: str, *, purpose: str, kind: str | None, ask_from: float | None) -> int | None:
        """A phrase that says how to find the element: "id sign_in", "the button labelled OK", "the switch for
        Bluetooth", "the view with description Navigate up", "row 4", "the title"."""
        if match := _BY_ID.fullmatch(ref):
            wanted = match["value"].lower()
            found = [i for i in self.shown if wanted in (self.nodes[i].resource_id.lower(), _short_id(self.nodes[i]))]
            if not found:
                raise Missing(f'I can\'t find an element with the id "{match["value"]}" on the screen.')
            return self._one(found, ref, purpose)
        if match := _BY_DESC.fullmatch(ref):
            scored = [
                (likeness(match["value"], self.nodes[i].content_desc), i)
                for i in self.shown
                if self.nodes[i].content_desc
            ]
            best = max(scored, default=(0.0, -1))
            if best[0] < ACT:
                raise Missing(f'I can\'t find an element described as "{match["value"]}" on the screen.')
            return best[1]
        for pattern in (_LABELLED, _WITH, _FOR, _TEXT_PREFIX):
            if (match := pattern.fullmatch(ref)) and not _NOUN_ONLY.match(match["value"]):
                noun = match.groupdict().get("noun") or ""
                said = KINDS.get(noun.lower()) if noun else None
                return self.find(
                    match["value"], purpose=purpose, kind=said if said not in (None, "any") else kind, ask_from=ask_from
                )
        if (match := _ROW_N.fullmatch(ref)) and self.confidence(ref) < ACT:
            return self._ordinal(int(match["n"]), "item", ref)
        if _TITLE.fullmatch(ref):
            titles = [i for i in self.shown if "title" in _short_id(self.nodes[i]) and self.nodes[i].text]
            texts = titles or [i for i in self.shown if self.is_kind(i, "text")]
            if texts:
                return min(texts, key=lambda i: (self.nodes[i].bounds[1], self.nodes[i].bounds[0]))
        return None

    def _of_kind(self, kind: str | None, name: str | None = None) -> list[int]:
        """Elements of a kind (None or "any": all), and called `name` when given."""
        found = [i for i in self.shown if kind in (None, "any") or self.is_kind(i, kind)]
        if name:
            scored = [(self.score(i, name), i) for i in found]
            top = max((score for score, _ in scored), default=0.0)
            found = [i for score, i in scored if score >= max(ACT, top - TIE)]
            found = [i for i in found if not any(j != i and self._inside(j, i) for j in found)]
        return found

    def confidence(self, query: str, *, kind: str | None = None) -> float:
        """How surely the phrase names something on the screen (of the kind, when given)."""
        return max((self.score(i, query) for i in self._of_kind(kind)), default=0.0)

    def _best(
        self, query: str, *, purpose: str, kind: str | None, exact: bool = False, ask_from: float | None = None
    ) -> int:
        scored = [(self.score(i, query, exact=exact), i) for i in self._of_kind(kind)]
        top = max((score for score, _ in scored), default=0.0)
        floor = ASK if ask_from is None else ask_from
        if top < floor:
            raise Missing(f'I can\'t find "{query}" on the screen.')
        if top < ACT:
            doubtful = sorted((i for score, i in scored if score >= floor), key=lambda i: -self.score(i, query))
            doubtful = [i for i in doubtful if not any(j != i and self._inside(j, i) for j in doubtful)]
            choices = self._distinct(doubtful, purpose)[:MAX_CHOICES]
            labels = self.choice_labels(choices)
            listed = " or ".join(f'"{label}"' for label in labels)
            raise Ask(f'I\'m not sure what "{query}" is on this screen. Do you mean {listed}?', choices, labels=labels)
        tied = [i for score, i in scored if score >= top - TIE]
        if purpose in ("tap", "field"):
            tied = [i for i in tied if tappable(self.nodes, self.nodes[i])] or tied
        tied = [i for i in tied if not any(j != i and self._inside(j, i) for j in tied)]
        return self._one(tied, query, purpose)

    def _distinct(self, found: list[int], purpose: str) -> list[int]:
        """One element per distinct selector, in order."""
        distinct: dict[str, int] = {}
        for i in found:
            try:
                distinct.setdefault(repr(self.selector(i, purpose)), i)
            except Missing:
                continue
        return list(distinct.values())

    def _one(self, found: list[int], what: str, purpose: str) -> int:
        distinct = self._distinct(found, purpose) or found[:1]
        if len(distinct) == 1:
            return distinct[0]
        choices = sorted(distinct, key=lambda i: (self.nodes[i].bounds[1], self.nodes[i].bounds[0]))[:MAX_CHOICES]
        labels = self.choice_labels(choices)
        listed = ", ".join(f'"{label}"' for label in labels)
        raise Ask(f'{len(distinct)} elements match "{what}": {listed}. Which one do you mean?', choices, labels=labels)

    def choice_labels(self, choices: list[int]) -> list[str]:
        """How a question lists its candidates, each an answer that picks it: its name, and where it is when
        two share a name ("OK (1st from the top)")."""
        names = [self.choice_name(i) for i in choices]
        labels = []
        for i, name in zip(choices, names, strict=True):
            same = [j for j, other in zip(choices, names, strict=True) if other == name]
            if len(same) > 1:
                name = f"{name} ({_nth(same.index(i) + 1)} from the top)"
            labels.append(name)
        return labels

    def candidates(self, purpose: str, on: bool | None = None) -> list[int]:
        """What a phrase like "it" could stand for: the switches (in the other state), fields or tappable names."""
        if purpose == "switch":
            found = [i for i in self.shown if self.nodes[i].checkable and (on is None or self.nodes[i].checked != on)]
        elif purpose == "field":
            found = [i for i in self.shown if self.is_kind(i, "field")]
        else:
            found = [i for i in self.shown if tappable(self.nodes, self.nodes[i]) and self.names(i)]
            found = [i for i in found if not any(j != i and self._inside(j, i) for j in found)]
        named: dict[str, int] = {}
        for i in self._distinct(found, purpose):
            named.setdefault(self.name_of(i), i)  # a row's title and its switch: one choice
        return list(named.values())[:MAX_CHOICES]

    def is_empty_field(self, i: int) -> bool:
        """Whether a text field shows no value of its own: no text, or its hint (its name, like "Email")."""
        node = self.nodes[i]
        if not node.text.strip():
            return True
        if not norm(node.text):  # a password's dots
            return False
        short = node.resource_id.split(":id/", 1)[-1].replace("_", " ")
        return norm(node.text) in (norm(short), norm(node.content_desc)) or norm(node.text) in _HINTS

    def list_like(self, ref: str) -> bool:
        """Whether the phrase names a row of a scrollable list by the list's own pattern ("Item 30" beside
        "Item 1" … "Item 13"), so that scrolling may bring it into view."""
        mine = re.fullmatch(r"(.*?\D)\s*(\d+)", norm(ref))
        if not mine:
            return False
        for i in self.shown:
            if self.nodes[i].text and self._list_child_deep(i):
                theirs = re.fullmatch(r"(.*?\D)\s*(\d+)", norm(self.nodes[i].text))
                if theirs and likeness(mine[1], theirs[1]) >= ACT:
                    return True
        return False

    def list_direction(self, ref: str) -> str | None:
        """ "up" when the numbered row the phrase names comes before the rows shown ("Item 2" above "Item 28"), "down"
        when after them, else None."""
        mine = re.fullmatch(r"(.*?\D)\s*(\d+)", norm(ref))
        if not mine:
            return None
        shown = []
        for i in self.shown:
            theirs = re.fullmatch(r"(.*?\D)\s*(\d+)", norm(self.nodes[i].text)) if self.nodes[i].text else None
            if theirs and self._list_child_deep(i) and likeness(mine[1], theirs[1]) >= ACT:
                shown.append(int(theirs[2]))
        if shown and int(mine[2]) < min(shown):
            return "up"
        if shown and int(mine[2]) > max(shown):
            return "down"
        return None

    def _list_child_deep(self, i: int) -> bool:
        parent = self.nodes[i].parent
        while parent is not None:
            holder = self.nodes[parent]
            if holder.scrollable or any(name in holder.class_name for name in _LISTS):
                return True
            parent = holder.parent
        return False

    def choose(self, choices: list[int], answer: str) -> int | None:
        """The element an answer to a question picks: "the second one", "2", "the bottom one", "Password" …"""
        words = strip_articles(answer.strip(" .!"))
        position = re.search(rf"\b({ORDINAL}|{POSITION})\b|^(\d+)$", words, re.I)
        if position:
            n = ordinal(position[1]) if position[1] else int(position[2])
            return choices[n - 1] if 1 <= n <= len(choices) else choices[-1] if n == -1 else None
        scored = sorted(((self.score(i, split_noun(words)[0]), i) for i in choices), reverse=True)
        if scored and scored[0][0] >= ASK and (len(scored) == 1 or scored[1][0] < scored[0][0] - TIE):
            return scored[0][1]
        return None

    def _only(self, kind: str, ref: str, purpose: str) -> int:
        found = self._of_kind(kind)
        if not found:
            raise Missing(f"There is no {ref} on the screen.")
        return self._one(found, ref, purpose)

    def _ordinal(self, position: int, kind: str | None, ref: str, *, name: str | None = None) -> int:
        unnamed = not kind and not name
        if unnamed:
            kind = "item" if self._of_kind("item") else "any"
        found = self._of_kind(kind, name)
        found.sort(key=lambda i: (self.nodes[i].bounds[1], self.nodes[i].bounds[0]))
        numbered = [i for i in found if re.search(r"\d", self.nodes[i].text)]
        said_where = re.search(r"\b(?:visible|shown|displayed|screen|top|bottom|upper|lower)", ref, re.I)
        if (
            (unnamed or position > 0)
            and not name
            and not said_where
            and kind == "item"
            and self.scrollable()
            and numbered
            and 1 <= abs(position) <= len(found)
        ):
            # "tap the 5th one" on a list scrolled to Item 19: the 5th row shown, or Item 5? ("the last one": of the
            # screen, or of the list?) Which, asked; never when the row shown is the one numbered so, nor when the
            # screen was said ("the 3rd visible item").
            shown = found[position if position < 0 else position - 1]
            label = self.name_of(shown)
            if position > 0 and re.search(rf"(?<!\d){position}(?!\d)", label):
                return shown
            raise Ask(f'Do you mean "{label}", the {ref} on the screen? Name the row, please.', [shown], labels=[label])
        if position < 0 and -position <= len(found):
            return found[position]
        if not 1 <= position <= len(found):
            raise Missing(f'I can\'t find "{ref}": the screen shows {len(found)} of them.')
        return found[position - 1]

    def _relative(self, kind: str, relation: str, anchor_ref: str, name: str | None) -> int:
        anchor = self.find(anchor_ref, purpose="see")
        ax1, ay1, ax2, ay2 = self.nodes[anchor].bounds
        relation = " ".join(relation.lower().split()).removeprefix("to the ")
        if relation != "right of":  # "right below", "directly under"; never "right of" ("the switch right of Wi-Fi")
            relation = re.sub(r"^(?:right|just|directly|immediately)\s+", "", relation)
        options = [
            i
            for i in self._of_kind(kind, name)
            if i != anchor and not self._inside(i, anchor) and not self._inside(anchor, i)
        ]
        if relation in ("after", "before"):
            same = [i for i in options if i > anchor] if relation == "after" else [i for i in options if i < anchor]
            if same:
                return same[0] if relation == "after" else same[-1]
        ranked: list[tuple[int, int]] = []
        for i in options:
            x1, y1, x2, y2 = self.nodes[i].bounds
            across = 0 if min(x2, ax2) > max(x1, ax1) else min(abs(x1 - ax2), abs(ax1 - x2))
            level = min(y2, ay2) > max(y1, ay1)
            if relation in ("below", "under", "underneath", "beneath") and y1 >= ay2 - 5:
                ranked.append((y1 - ay2 + across, i))
            elif relation in ("above", "over") and y2 <= ay1 + 5:
                ranked.append((ay1 - y2 + across, i))
            elif relation in ("next to", "beside", "right of") and level and x1 >= ax2 - 5:
                ranked.append((x1 - ax2, i))
            elif relation in ("next to", "beside", "left of") and level and x2 <= ax1 + 5:
                ranked.append((ax1 - x2, i))
        if not ranked:
            raise Missing(f'I can\'t find a {kind} {relation} "{anchor_ref}" on the screen.')
        return min(ranked)[1]

    def _in_dialog(self, anchor_ref: str, name: str) -> int:
        """ "OK on the update dialog": the element so called below the dialog's title and above the next title (a
        title of another dialog further down has buttons of its own). "dismiss the update dialog" whose only
        button is OK: that button."""
        anchor = self.find(anchor_ref, purpose="see")
        top = self.nodes[anchor].bounds[3]
        titles = [
            self.nodes[i].bounds[1]
            for i in self.shown
            if i != anchor
            and self.nodes[i].bounds[1] >= top
            and self.nodes[i].text
            and not self.is_kind(i, "button")
            and (self.nodes[i].resource_id, self.nodes[i].class_name)
            == (self.nodes[anchor].resource_id, self.nodes[anchor].class_name)
        ]
        bottom = min(titles, default=10**9)
        inside = [i for i in self.shown if top - 5 <= self.nodes[i].bounds[1] and self.nodes[i].bounds[3] <= bottom + 5]
        if name.lower() == "dismiss":
            buttons = [i for i in inside if self.is_kind(i, "button")]
            named = [i for i in buttons if self.nodes[i].text.lower() in DISMISS]
            named = named or (buttons if len(buttons) == 1 else [])
        else:
            label, noun = split_noun(name)  # "the Cancel button on the backup dialog"
            named = [i for i in self._of_kind(noun or "any", label) if i in inside]
        if not named:
            raise Missing(f'I can\'t find "{name}" in the "{anchor_ref}" dialog on the screen.')
        return min(named, key=lambda i: self.nodes[i].bounds[1])

    def dismissers(self) -> list[int]:
        """Buttons that close a dialog ("Cancel", "Close", "Not now")."""
        return [i for i in self.shown if self.is_kind(i, "button") and self.nodes[i].text.strip().lower() in DISMISS]

    # Selectors -------------------------------------------------------------------

    def selector(self, i: int, purpose: str) -> dict[str, Any]:
        """The selector that makes the step act on element `i`, preferring its on-screen text.

        Fields and switches go by resource-id (a field's text is its hint or its value, both
        change). An `index` is added only when the runtime would otherwise pick another element.
        """
        node = self.nodes[i]
        own_id = node.resource_id if ":id/" in node.resource_id and not node.resource_id.startswith("android:") else ""
        keys: list[tuple[str, str]] = []
        if own_id and (self.is_kind(i, "field") or node.checkable):
            keys.append(("id", own_id))
        keys += [("text", node.text), ("desc", node.content_desc), ("id", own_id)]
        for key, value in keys:
            if value:
                return self._indexed({key: value}, i, purpose)
        inner = next((j for j in self.shown if self.nodes[j].text and self._inside(j, i)), None)
        if inner is not None:
            return self.selector(inner, purpose)
        if purpose == "tap":
            x, y = node.center
            return {"x": x, "y": y}
        raise Missing("That element has no text, description or id to find it by.")

    def _indexed(self, selector: dict[str, Any], i: int, purpose: str) -> dict[str, Any]:
        matches = find_nodes(self.nodes, selector)
        mine = next((n for n, node in enumerate(matches) if node is self.nodes[i]), None)
        if mine is None or purpose == "see":
            return selector
        picked = next((n for n, node in enumerate(matches) if tappable(self.nodes, node)), 0)
        return selector if picked == mine else {**selector, "index": mine}

    def describe(self, i: int) -> str:
        node = self.nodes[i]
        name = node.text or node.content_desc or next((t for t in self._related_texts(i)), "")
        kind = next((k for k in ("field", "button", "switch") if self.is_kind(i, k)), "")
        return f'"{name}"' + (f" {kind}" if kind else "") if name else f"the {kind or 'element'} at {node.center}"

    def checked(self, i: int) -> bool:
        return self.nodes[i].checked

    def choice_name(self, i: int) -> str:
        """A field that holds a value is offered by what it is ("Password"), not by what it holds ("•••")."""
        node = self.nodes[i]
        if self.is_kind(i, "field") and node.text and not self.is_empty_field(i) and ":id/" in node.resource_id:
            return node.resource_id.split(":id/", 1)[1].replace("_", " ").capitalize()
        return self.name_of(i)

    def name_of(self, i: int) -> str:
        """What to call element `i` in a summary."""
        node = self.nodes[i]
        if node.password and node.resource_id:
            return norm(node.resource_id.rpartition("/")[2]).capitalize()  # "Password", never the dots it shows
        return node.text or node.content_desc or next(iter(self._related_texts(i)), "") or norm(node.resource_id)


def recase(words: str, labels: list[str]) -> str:
    """Words as the user wrote them, spelled as on screen when a label says the same ("item 30" -> "Item 30")."""
    for label in labels:
        if likeness(words, label) >= 0.97:
            return label
    mine = re.fullmatch(r"(.*?\D)\s*(\d+)", words)
    if mine:
        for label in labels:
            theirs = re.fullmatch(r"(.*?\D)(\s*)(\d+)", label)
            if theirs and norm(theirs[1]) == norm(mine[1]):
                return f"{theirs[1]}{theirs[2]}{mine[2]}"
    return words


def _nth(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")
