"""The PNGs: one per benchmark, drawn from the ``data`` of its result (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._common import X
from ._results import RESULTS_DIR, Result

__all__ = ["draw"]

OURS = "#1f6feb"
COLORS = ("#1f6feb", "#8b949e", "#d29922", "#cf222e", "#2da44e", "#8250df")
PRIO_COLORS = ("#8b949e", "#cf222e", "#1f6feb")


def _save(fig: Figure, name: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / f"{name}.png", dpi=110)
    plt.close(fig)


def _label_bars(ax: Axes, bars: Any, fmt: str = "{:,.0f}") -> None:
    for bar in bars:
        height = bar.get_height()
        ax.annotate(
            fmt.format(height),
            (bar.get_x() + bar.get_width() / 2, height),
            ha="center",
            va="bottom",
            fontsize=7,
            xytext=(0, 2),
            textcoords="offset points",
        )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _overhead(result: Result) -> None:
    data = result["data"]
    rates: dict[str, list[float]] = data["rates"]
    clients: list[str] = data["clients"]
    concurrency: list[int] = data["concurrency"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=(2, 1))
    width = 0.8 / len(clients)
    for index, client in enumerate(clients):
        heights = [_median(rates[f"{client}@{c}"]) for c in concurrency]
        xs = [i + (index - (len(clients) - 1) / 2) * width for i in range(len(concurrency))]
        bars = left.bar(xs, heights, width, label=client, color=COLORS[index])
        _label_bars(left, bars)
    left.set_xticks(range(len(concurrency)), [f"concurrency {c}" for c in concurrency])
    left.set_yscale("log")
    left.set_ylabel("requests / s (log scale; higher is better)")
    left.set_title("One GET /v2/me, decoded, against a trivial server")
    left.legend(loc="upper left", fontsize=8)
    paired: dict[str, list[float]] = data.get("observer_paired_costs") or {}
    names = list(paired)
    if names:
        # The judged figure: each observer's extra CPU per call in paired runs (dots: the
        # pairs; bars: their median), against the target.
        medians = [_median(paired[name]) * 100 for name in names]
        bars = right.bar(range(len(names)), medians, color=OURS, alpha=0.8)
        for index, name in enumerate(names):
            values = [v * 100 for v in paired[name]]
            right.scatter([index] * len(values), values, s=8, color="black", alpha=0.5, zorder=3)
        for bar, value in zip(bars, medians, strict=True):
            right.annotate(
                f"{value:+.1f}%",
                (bar.get_x() + bar.get_width() / 2, max(value, 0)),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 3),
                textcoords="offset points",
            )
        right.axhline(5, color="#cf222e", lw=1, ls="--", label="target: at most +5%")
        right.axhline(0, color="black", lw=0.6)
        right.set_xticks(range(len(names)), [n.split(" (")[0] for n in names], fontsize=8)
        right.set_ylabel("extra client CPU per call vs no observer (%)")
        right.set_title("Observers, concurrency 64 (paired runs)")
        right.legend(loc="upper left", fontsize=8)
    _save(fig, "overhead")


def _pacing(result: Result) -> None:
    data = result["data"]
    limit, window, calls = data["limit"], data["window"], data["calls"]
    strategies: dict[str, Any] = data["strategies"]
    fig, ax = plt.subplots(figsize=(10, 5))
    ideal_x, ideal_y = [0.0], [0]
    batches = -(-calls // limit)
    for batch in range(batches):
        t = batch * window
        ideal_x += [t, t]
        ideal_y += [ideal_y[-1], min(calls, (batch + 1) * limit)]
    ideal_x.append(max(max(s["ok_times"][-1] for s in strategies.values()), ideal_x[-1]))
    ideal_y.append(calls)
    ax.plot(ideal_x, ideal_y, "k--", lw=1.2, label="ideal: L at once, L more per window")
    styles = ("-", "--", "-", ":")
    for index, (name, figures) in enumerate(strategies.items()):
        color = COLORS[index % len(COLORS)]
        times = figures["ok_times"]
        ax.step(
            times,
            range(1, len(times) + 1),
            where="post",
            color=color,
            ls=styles[index % len(styles)],
            lw=1.8 if index == 0 else 1.3,
            label=f"{name}: {figures['ratio']:.3f} of ideal, {figures['rate_limited']} {X} 429",
        )
        if figures["limited_times"]:
            ax.plot(
                figures["limited_times"],
                [-3 - index * 3 * calls / 100] * len(figures["limited_times"]),
                "x",
                color=color,
                ms=4,
            )
    end = ideal_x[-1]
    for boundary in range(1, int(end / window) + 1):
        ax.axvline(boundary * window, color="#ddd", lw=0.8, zorder=0)
    ax.set_xlim(-0.02 * end, end * 1.03)
    ax.set_xlabel("seconds since the first request reached the server")
    ax.set_ylabel("successful requests received by the server")
    ax.set_title(
        f"Pacing: {calls} calls at once, limit {limit} per {window:g} s "
        f"({X} marks: 429s; grey lines: window lengths)"
    )
    ax.legend(fontsize=8, loc="upper left")
    _save(fig, "pacing")


def _scale(result: Result) -> None:
    data = result["data"]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4.2), width_ratios=(1.5, 1, 1))
    labels = list(data["acquire_us"])
    values = [data["acquire_us"][label] for label in labels]
    bars = left.barh(range(len(labels)), values, color=COLORS[: len(labels)])
    for bar, value in zip(bars, values, strict=True):
        left.annotate(
            f"{value:.2f}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
            xytext=(3, 0),
            textcoords="offset points",
        )
    left.axvline(data["target_acquire_us"], color="#cf222e", ls="--", lw=1, label="target")
    left.set_yticks(range(len(labels)), labels, fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, max(values) * 1.2)
    left.set_xlabel("µs per acquire (tokens free)")
    left.set_title("Acquire overhead")
    left.legend(fontsize=8, loc="lower right")
    mem_labels = list(data["bytes_per_credential"])
    mem = [data["bytes_per_credential"][label] for label in mem_labels]
    bars = middle.bar(range(len(mem_labels)), mem, color=COLORS[: len(mem_labels)])
    _label_bars(middle, bars)
    middle.axhline(1024, color="#cf222e", ls="--", lw=1, label="target 1 KB")
    middle.set_xticks(range(len(mem_labels)), mem_labels, fontsize=7)
    middle.set_ylabel("bytes per idle credential")
    middle.set_title(f"Memory, {data['credentials']:,} credentials")
    middle.legend(fontsize=8)
    fifo = data["fifo"]
    right.plot(fifo["grant_seconds"], fifo["arrival"], ",", color=OURS)
    right.set_xlabel("grant time (s)")
    right.set_ylabel("arrival index")
    right.set_title(
        f"FIFO: {fifo['calls']:,} queued calls, {fifo['inversions']} out of order",
        fontsize=10,
    )
    _save(fig, "scale")


def _fleet(result: Result) -> None:
    data = result["data"]
    sizes: list[int] = data["processes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    ratios = [data["runs"][str(p)]["ratio"] for p in sizes]
    limited = [data["runs"][str(p)]["rate_limited"] for p in sizes]
    bars = left.bar([str(p) for p in sizes], ratios, color=OURS)
    _label_bars(left, bars, "{:.3f}")
    left.axhline(data["target_ratio"], color="#cf222e", ls="--", lw=1, label="target")
    left.set_ylim(min(0.9, min(ratios) - 0.02), 1.0)
    left.set_xlabel("processes sharing one credential")
    left.set_ylabel("ideal time / achieved time")
    left.set_title("Aggregate pace vs the ideal (429s: " + ", ".join(map(str, limited)) + ")")
    left.legend(fontsize=8, loc="lower left")
    per_grant = [data["runs"][str(p)]["redis_per_grant"] for p in sizes]
    scripts = [data["runs"][str(p)]["scripts_per_grant"] for p in sizes]
    xs = range(len(sizes))
    b1 = right.bar([x - 0.2 for x in xs], per_grant, 0.4, label="Redis round trips", color=OURS)
    b2 = right.bar([x + 0.2 for x in xs], scripts, 0.4, label="limiter scripts", color=COLORS[2])
    _label_bars(right, b1, "{:.2f}")
    _label_bars(right, b2, "{:.2f}")
    right.set_xticks(list(xs), [str(p) for p in sizes])
    right.set_xlabel("processes")
    right.set_ylabel("per granted call")
    right.set_title("Redis calls per grant")
    right.legend(fontsize=8)
    _save(fig, "fleet")


def _export(result: Result) -> None:
    data = result["data"]
    names = list(data["records_per_second"])
    values = [_median(data["records_per_second"][name]) for name in names]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    bars = ax.barh(range(len(names)), values, color=COLORS[: len(names)])
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(
            f"{value:,.0f}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
            xytext=(3, 0),
            textcoords="offset points",
        )
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("records / s (higher is better)")
    ax.set_title(f"Exporting {data['bookings']:,} bookings, {data['page_size']} per page")
    ax.set_xlim(0, max(values) * 1.18)
    _save(fig, "export")


def _priorities(result: Result) -> None:
    data = result["data"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, (mode, figures) in enumerate(data["modes"].items()):
        waits = sorted(figures["interactive_latency"])
        n = len(waits)
        left.step(
            waits,
            [(i + 1) / n for i in range(n)],
            where="post",
            color=PRIO_COLORS[index % len(PRIO_COLORS)],
            label=f"{mode}: p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s",
        )
        right.plot(
            figures["interactive_start"],
            figures["interactive_latency"],
            "o",
            ms=3,
            color=PRIO_COLORS[index % len(PRIO_COLORS)],
            label=mode,
        )
    left.set_xlabel("interactive call latency (s)")
    left.set_ylabel("fraction of interactive calls")
    left.set_title("Interactive calls under a saturating bulk load")
    left.legend(fontsize=8, loc="lower right")
    right.set_xlabel("call started at (s since the bulk load began)")
    right.set_ylabel("latency (s)")
    right.set_title(f"Bulk: {data['bulk_calls']} calls, limit {data['limit']}/{data['window']:g} s")
    right.legend(fontsize=8)
    _save(fig, "priorities")


def _sync(result: Result) -> None:
    data = result["data"]
    lifted = data["lifted"]
    labels = {
        "sync": "sync() into DuckDB",
        "export": "export (cursor)",
        "export-offset": "export (offset, 4)",
    }
    names = [name for name in labels if name in lifted]
    values = [_median([run["rows"] / run["seconds"] for run in lifted[name]]) for name in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    bars = left.bar(range(len(names)), values, color=COLORS[: len(names)])
    _label_bars(left, bars)
    left.set_xticks(range(len(names)), [labels[name] for name in names], fontsize=8)
    left.set_ylabel("rows / s (higher is better)")
    left.set_title("10,000 bookings, limit lifted")
    bound = data["bound"]
    arrivals = bound.get("arrivals", [])
    limit, window = data["limit"], data["window"]
    right.step(
        arrivals, range(1, len(arrivals) + 1), where="post", color=OURS, label="requests sent"
    )
    ideal_x = [index // limit * window for index in range(len(arrivals))]
    right.step(
        ideal_x,
        range(1, len(arrivals) + 1),
        where="post",
        color=COLORS[1],
        ls="--",
        label="the limiter's ideal",
    )
    right.axvline(
        bound["seconds"], color=COLORS[3], lw=1, label=f"the whole run: {bound['seconds']:.1f} s"
    )
    right.set_xlabel("seconds since the first request")
    right.set_ylabel("requests")
    right.set_title(
        f"At {limit} requests per {window:g} s: ratio {bound['ideal'] / bound['seconds']:.3f}"
    )
    right.legend(fontsize=8, loc="lower right")
    _save(fig, "sync")


_DRAW: dict[str, Callable[[Result], None]] = {
    "overhead": _overhead,
    "pacing": _pacing,
    "scale": _scale,
    "fleet": _fleet,
    "export": _export,
    "priorities": _priorities,
    "sync": _sync,
}


def draw(name: str, result: Result) -> None:
    """Draw ``results/<name>.png`` (benchmarks without a plot are skipped)."""
    drawer = _DRAW.get(name)
    if drawer is not None and "data" in result:
        drawer(result)
