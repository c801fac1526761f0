"""Plots for the HTML report, drawn from the plain data the checks keep.

Colours are the Okabe-Ito palette, safe for the common colour-vision deficiencies, and
every series also has its own line style and marker, so the plots read in grey print.
Each plot is returned as a PNG, base64-encoded, to be inlined in the page. Layers and
steps are counted, so their axes have whole-number ticks; a per-layer plot may name its
last point (``last``, e.g. the output layer, which is not one of the hidden layers).
"""

from __future__ import annotations

import base64
import io
from typing import Any

#: Okabe & Ito (2008): distinguishable with any of the common colour-vision deficiencies.
COLOURS = {
    "student": "#0072B2",
    "reference": "#E69F00",
    "unclipped": "#D55E00",
    "threshold": "#000000",
}
STYLES = {"student": ("-", "o"), "reference": ("--", "s"), "unclipped": (":", "^")}


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed), imported on first use."""
    # lazy: matplotlib takes about a second to import; only a page with plots loads it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: after the backend is chosen

    return plt


def integer_locator() -> Any:
    """A tick locator at whole numbers, for axes that count layers, steps or students."""
    # lazy: matplotlib takes about a second to import; only a page with plots loads it
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def png_of(figure: Any) -> str:
    """The figure as a base64-encoded PNG, to inline in a page; the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _line(axes: Any, values: list[float] | None, who: str, label: str) -> None:
    if not values:
        return
    style, marker = STYLES[who]
    axes.plot(
        range(1, len(values) + 1),
        [abs(v) if v is not None else float("nan") for v in values],
        linestyle=style,
        marker=marker,
        markersize=4,
        color=COLOURS[who],
        label=label,
    )


def per_layer(data: dict[str, Any]) -> str:
    """A per-layer quantity on a log scale: the student's against the reference's."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 3.4))
    _line(axes, data.get("reference"), "reference", "reference")
    _line(axes, data.get("student"), "student", "yours")
    axes.set_yscale("log")
    axes.set_xlabel(data.get("xlabel", "layer"))
    axes.set_ylabel(data.get("ylabel", "value"))
    axes.set_title(data["title"], fontsize=10, wrap=True)
    _whole_number_ticks(axes)
    _name_last_point(axes, data)
    axes.grid(alpha=0.3, which="both")
    axes.legend()
    return png_of(figure)


def _whole_number_ticks(axes: Any) -> None:
    """Layers and steps are counted: ticks at whole numbers only."""
    axes.xaxis.set_major_locator(integer_locator())


def _name_last_point(axes: Any, data: dict[str, Any]) -> None:
    """Label the last point when it differs in kind (e.g. the output layer)."""
    series = data.get("reference") or data.get("student")
    if not data.get("last") or not series or series[-1] is None:
        return
    axes.annotate(
        data["last"],
        xy=(len(series), abs(series[-1])),
        xytext=(-6, 10),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        arrowprops={"arrowstyle": "->", "lw": 0.8},
    )


def training(data: dict[str, Any]) -> str:
    """Loss per step (yours, the reference's, unclipped) and the global norms against the threshold."""
    plt = pyplot()
    figure, (losses, norms) = plt.subplots(1, 2, figsize=(9.6, 3.4))
    _line(losses, data.get("reference"), "reference", "reference, clipped")
    _line(losses, data.get("student"), "student", "yours, clipped")
    _line(losses, data.get("unclipped"), "unclipped", "same run without clipping")
    losses.set_yscale("log")
    losses.set_xlabel("step")
    losses.set_ylabel("loss (log scale; gaps are inf or NaN)")
    losses.set_title(data["title"], fontsize=10)
    _whole_number_ticks(losses)
    losses.grid(alpha=0.3, which="both")
    losses.legend(fontsize=8)
    _line(norms, data.get("grad_norms"), "unclipped", "global norm before clipping")
    _line(norms, data.get("clipped_norms"), "student", "after clipping")
    norms.axhline(
        data.get("threshold", 1.0), color=COLOURS["threshold"], linestyle="-.", label="threshold"
    )
    norms.set_yscale("log")
    norms.set_xlabel("step")
    norms.set_ylabel("global gradient norm (log scale)")
    norms.set_title("Your loop: global norm per step", fontsize=10)
    _whole_number_ticks(norms)
    norms.grid(alpha=0.3, which="both")
    norms.legend(fontsize=8)
    return png_of(figure)


RENDERERS = {"per_layer": per_layer, "training": training}


def render(data: dict[str, Any]) -> str:
    """A figure's PNG, base64-encoded.

    Raises:
        ValueError: for an unknown kind of figure.
    """
    try:
        return RENDERERS[data["kind"]](data)
    except KeyError:
        raise ValueError(f"Unknown figure. Received: kind={data.get('kind')!r}") from None
