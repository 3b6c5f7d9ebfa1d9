"""
Small SVG charts for the panel's report pages: a horizontal bar chart and a
stacked column chart, built as plain strings.

The SVG is meant to be read both ways: every bar carries its number as text
(so a grey-scale printout loses nothing), there is a legend for stacked
series, a C{<title>} for screen readers, and the source has one element per
line.  Every label is escaped; nothing from the operator (option labels,
list names, campaign names) can inject markup.

    svg = bar_chart("Contacts per final outcome", [("Reached", 6), ("Busy", 1)],
                    unit="contacts")
"""

from xml.sax.saxutils import escape, quoteattr

#: Colours per series key (attempt outcomes share them across charts);
#: other keys take the fallback palette in order.
COLOURS = {
    "answered": "#2e7d32",
    "busy": "#f9a825",
    "no_answer": "#90a4ae",
    "congestion": "#ef6c00",
    "chanunavail": "#8d6e63",
    "invalid_number": "#c62828",
    "failed": "#6a1b9a",
    "cancelled": "#455a64",
    "unknown": "#bdbdbd",
    "in_progress": "#1565c0",
}
PALETTE = ("#1565c0", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f", "#ef6c00",
           "#8d6e63", "#455a64", "#ad1457", "#9e9d24", "#5d4037")

_FONT = 'font-family="sans-serif" font-size="12"'


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _open(width, height, title):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)}>',
        f"  <title>{escape(title)}</title>",
        f'  <text x="0" y="16" {_FONT} font-weight="bold">{escape(title)}</text>',
    ]


def bar_chart(title, bars, unit="", width=640, bar_height=20, gap=6, label_width=220,
              colour="#1565c0"):
    """
    Horizontal bars, one per C{(label, value)}, with the value written after
    each bar (and C{unit} after the value when given).

    @return: the SVG document as text.
    """
    bars = [(str(label), value) for label, value in bars]
    top = 28
    height = top + len(bars) * (bar_height + gap) + gap
    room = width - label_width - 90
    biggest = max([value for _, value in bars] + [0])
    lines = _open(width, height, title)
    for index, (label, value) in enumerate(bars):
        y = top + index * (bar_height + gap)
        length = 0 if not biggest else round(room * value / biggest, 1)
        text_y = y + bar_height * 0.7
        suffix = f" {unit}" if unit else ""
        lines += [
            f'  <g class="bar">',
            f'    <text x="{label_width - 6}" y="{text_y:g}" text-anchor="end" {_FONT}>'
            f"{escape(label)}</text>",
            f'    <rect x="{label_width}" y="{y}" width="{length:g}" height="{bar_height}"'
            f' fill="{colour}"/>',
            f'    <text x="{label_width + length + 6:g}" y="{text_y:g}" {_FONT}>'
            f"{escape(_number(value) + suffix)}</text>",
            "  </g>",
        ]
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def stacked_bar_chart(title, columns, series, unit="", width=640, height=260):
    """
    Vertical columns, each split into stacked segments.

    @param columns: C{(label, [(series key, value), ...])} per column.
    @param series: C{(key, label)} of every series, in stacking and legend
        order; segments of keys not listed are ignored.
    @return: the SVG document as text.
    """
    series = [(str(key), str(label)) for key, label in series]
    colours = _colours([key for key, _ in series])
    legend_rows = (len(series) + 3) // 4
    top, left, bottom = 28, 40, 36 + 18 * legend_rows
    plot_height = height - top - bottom
    plot_width = width - left - 10
    step = plot_width / max(len(columns), 1)
    bar = max(step * 0.7, 1)
    totals = [sum(v for k, v in values if k in colours) for _, values in columns]
    biggest = max(totals + [0])
    lines = _open(width, height, title)
    base = top + plot_height
    lines.append(f'  <line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}"'
                 f' stroke="#000" stroke-width="1"/>')
    lines.append(f'  <text x="{left - 4}" y="{top + 10}" text-anchor="end" {_FONT}>'
                 f"{escape(_number(biggest))}</text>")
    for index, ((label, values), total) in enumerate(zip(columns, totals)):
        x = left + index * step + (step - bar) / 2
        amounts = dict(values)
        y = base
        lines.append(f'  <g class="column">')
        for key, key_label in series:
            value = amounts.get(key, 0)
            if not value:
                continue
            segment = plot_height * value / biggest
            y -= segment
            lines.append(
                f'    <rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{segment:.1f}"'
                f' fill="{colours[key]}">'
                f"<title>{escape(f'{label}: {key_label} {_number(value)}')}</title></rect>")
        if total:
            suffix = f" {unit}" if unit and len(columns) <= 8 else ""
            lines.append(f'    <text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle"'
                         f' {_FONT}>{escape(_number(total) + suffix)}</text>')
        lines.append(f'    <text x="{x + bar / 2:.1f}" y="{base + 14}" text-anchor="middle"'
                     f' {_FONT}>{escape(str(label))}</text>')
        lines.append("  </g>")
    for index, (key, key_label) in enumerate(series):
        x = left + (index % 4) * (plot_width / 4)
        y = base + 24 + (index // 4) * 18
        lines += [
            f'  <rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{colours[key]}"/>',
            f'  <text x="{x + 14:.1f}" y="{y + 9}" {_FONT}>{escape(key_label)}</text>',
        ]
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def _colours(keys):
    colours, spare = {}, iter(PALETTE * (len(keys) // len(PALETTE) + 1))
    for key in keys:
        colours[key] = COLOURS.get(key) or next(spare)
    return colours


def report_charts(report):
    """
    The charts of a campaign report page, by name: C{final_outcomes}
    (contacts), C{options} (contacts), C{failure_reasons} (calls),
    C{attempts} and C{hours} (calls, stacked by attempt outcome).
    """
    used = {o for row in list(report.attempts) + list(report.hours) for o, _ in row.outcomes}
    series = [(row.key, row.label) for row in report.call_outcomes if row.key in used]
    return {
        "final_outcomes": bar_chart(
            "Contacts per final outcome",
            [(row.label, row.contacts) for row in report.final_outcomes], unit="contacts"),
        "options": bar_chart(
            "Contacts per option chosen",
            [(f"{row.key}: {row.label}", row.contacts) for row in report.options],
            unit="contacts"),
        "failure_reasons": bar_chart(
            "Unanswered calls per reason",
            [(row.label, row.calls) for row in report.failure_reasons], unit="calls",
            colour="#c62828"),
        "attempts": stacked_bar_chart(
            "Calls per attempt number",
            [(row.label, row.outcomes) for row in report.attempts], series, unit="calls"),
        "hours": stacked_bar_chart(
            f"Calls per hour of day ({report.timezone})",
            [(f"{row.key:02d}", row.outcomes) for row in report.hours], series),
    }
