"""Names as the registry writes them, matched against the knowledge base's agents and NK cell
products: "Daratumumab SC", "IL-2 (aldesleukin)" and "Pembrolizumab + Carboplatin" included."""

import functools
import re

# Ways a registry name tells its route of administration: "Daratumumab SC".
_ROUTE = re.compile(r"\s+(sc|sq|iv|subcutaneous|intravenous)$")
_BRACKETED_END = re.compile(r"\s*[(\[][^()\[\]]*[)\]]$")
_SEPARATORS = re.compile(r"\s*\+\s*|\s+and\s+|\s+or\s+|\s*/\s*", re.IGNORECASE)


def normalise_name(name: str) -> str:
    """A name reduced to what tells it apart: case, punctuation, hyphens, spaces, a bracketed
    ending and a route suffix dropped ("IL-2 (aldesleukin)" and "il2" are the same)."""
    text = name.casefold().strip()
    while _BRACKETED_END.search(text) and _BRACKETED_END.sub("", text):
        text = _BRACKETED_END.sub("", text)
    text = _ROUTE.sub("", text)
    return re.sub(r"[\W_]+", "", text)


# The same names recur in thousands of registry records (the drugs of a regimen, the knowledge
# base's own agents): each is normalised once.
@functools.lru_cache(maxsize=16_384)
def name_keys(name: str) -> frozenset[str]:
    """The normalised forms a name may be known by: itself, the name in its bracketed ending
    ("aldesleukin" of "IL-2 (aldesleukin)") and its part before a description
    ("NKX101" of "NKX101 - CAR NK cell therapy")."""
    forms = [name, name.split(" - ")[0]]
    forms += re.findall(r"[(\[]([^()\[\]]+)[)\]]\s*$", name)
    return frozenset(key for key in map(normalise_name, forms) if key)


def split_names(name: str) -> list[str]:
    """The names a combination lists: "A + B", "A and B", "A or B", "A/B"."""
    return [part for part in (p.strip() for p in _SEPARATORS.split(name)) if part]


def names_of(item) -> list[str]:
    """An agent's or NK cell product's name, slug and aliases."""
    return [item.name, item.slug, *item.aliases]


def unlinked_names(intervention: dict, index: set[str]) -> list[str]:
    """The names of a registry intervention that match nothing in `index` (normalised names).

    Its name and other names are the same thing's: one matching links it. Only when none does is
    a combination ("Pembrolizumab + Carboplatin") split, and each part checked alone.
    """
    names = [intervention["name"], *intervention["other_names"]]
    if any(name_keys(name) & index for name in names):
        return []
    parts = split_names(intervention["name"])
    return [part for part in parts if not name_keys(part) & index]
