"""Size/colour variants: the articles of one model as its size × colour grid (SPEC §7).

Each variant is an article of its own, with its own id, barcodes and stock; what makes
it a variant is its catalog columns ``model``, ``size`` and ``colour``
(docs/catalog.md). The catalog import refuses two articles in the same cell.

Invariants:

- Sizes and colours keep the order of their first appearance in catalog order (the
  order the shop wrote them: S, M, L rather than alphabetical).
- A cell holds at most one article; a cell with none is a variant the shop does not
  sell (``None``).

Pure: no Trio, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from laneserver.rules.catalog import Article


class VariantGrid(msgspec.Struct, frozen=True):
    """``cells[(size, colour)]``: the article of that variant."""

    model: str
    sizes: tuple[str, ...]
    colours: tuple[str, ...]
    cells: dict[tuple[str, str], Article]

    def at(self, size: str, colour: str) -> Article | None:
        return self.cells.get((size, colour))

    def rows(self) -> list[list[Article | None]]:
        """The grid as rows (one per size) of cells (one per colour)."""
        return [[self.cells.get((size, colour)) for colour in self.colours] for size in self.sizes]


def variant_grid(model: str, articles: Iterable[Article]) -> VariantGrid:
    """The grid of ``model`` from ``articles`` (the catalog's, or ``Catalog.variants``).

    Raises:
        ValueError: two articles fill the same cell (the import refuses that catalog).
    """
    sizes: dict[str, None] = {}
    colours: dict[str, None] = {}
    cells: dict[tuple[str, str], Article] = {}
    for article in articles:
        if article.model != model:
            continue
        sizes.setdefault(article.size)
        colours.setdefault(article.colour)
        other = cells.setdefault((article.size, article.colour), article)
        if other is not article:
            raise ValueError(f"model {model!r}: articles {other.id!r} and {article.id!r} are both size "
                             f"{article.size!r} colour {article.colour!r}")
    return VariantGrid(model=model, sizes=tuple(sizes), colours=tuple(colours), cells=cells)
