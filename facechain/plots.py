"""Small charts and image grids drawn with Pillow alone (no plotting library to install)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))


def line_chart(
    series: dict[str, Sequence[tuple[float, float]]],
    path: Path,
    title: str,
    size: tuple[int, int] = (640, 360),
    every_point: bool = False,
) -> Path:
    """Plot named (x, y) series with axes labelled by their ranges and a legend row under the title;
    writes a PNG. ``every_point`` marks and labels each x (few, discrete x such as seeds); otherwise
    only the ends of each series are marked (long curves such as losses)."""
    width, height = size
    left, right, top, bottom = 60, 20, 48, 40
    chart = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(chart)
    points = [p for values in series.values() for p in values]
    if not points:
        raise ValueError("nothing to plot")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

    def place(x, y):
        return (
            left + (x - x0) / (x1 - x0) * (width - left - right),
            height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom),
        )

    draw.rectangle((left, top, width - right, height - bottom), outline=(160, 160, 160))
    draw.text((left, 8), title, fill="black")
    draw.text((4, top), f"{y1:.4g}", fill="black")
    draw.text((4, height - bottom - 10), f"{y0:.4g}", fill="black")
    ticks = sorted(set(xs)) if every_point else [x0, x1]
    for x in ticks:
        draw.text((place(x, y0)[0] - 3, height - bottom + 8), f"{x:g}", fill="black")
    legend_x = left
    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        if len(values) > 1:
            draw.line([place(x, y) for x, y in values], fill=colour, width=2)
        for x, y in values if every_point else values[:1] + values[-1:]:
            cx, cy = place(x, y)
            draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=colour)
        draw.rectangle((legend_x, 28, legend_x + 8, 36), fill=colour)
        draw.text((legend_x + 12, 26), name, fill=colour)
        legend_x += 12 + draw.textlength(name) + 16
    chart.save(path)
    return path


def image_grid(images: Sequence[Image.Image], columns: int) -> Image.Image:
    """Images of one size laid out in rows of ``columns``."""
    width, height = images[0].size
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image, ((index % columns) * width, (index // columns) * height))
    return grid


def title_card(title: str, subtitle: str, size: int = 192) -> Image.Image:
    """A plain card with a title, standing in for a style thumbnail that was not provided."""
    from PIL import ImageFont

    card = Image.new("RGB", (size, size), (236, 240, 246))
    draw = ImageDraw.Draw(card)
    draw.rectangle((6, 6, size - 7, size - 7), outline=(150, 160, 180), width=2)
    draw.text((size // 2, size // 2 - 12), title, fill=(30, 40, 60), anchor="mm", font=ImageFont.load_default(size=18))
    draw.text(
        (size // 2, size // 2 + 16),
        subtitle[:28],
        fill=(90, 100, 120),
        anchor="mm",
        font=ImageFont.load_default(size=11),
    )
    return card
