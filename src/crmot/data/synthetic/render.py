"""Vectorized rendering of one camera's frames: background, depth-ordered people, exact instance masks.

Every object is a small set of rectangles and ellipses painted with numpy slices (painter's
algorithm, far to near), into the RGB image and an id map in the same pass, so occlusion in the
masks is exactly the occlusion in the pixels. Nothing loops over pixels in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter

from crmot.data.synthetic.camera import Camera
from crmot.data.synthetic.people import DOG_COLOURS, Person
from crmot.data.synthetic.props import Prop, Robot

#: A GT row is written only for people with at least this many visible pixels ...
MIN_VISIBLE_PIXELS = 30
#: ... and at least this fraction of their silhouette visible (the rest is occluded or off-image).
MIN_VISIBLE_FRACTION = 0.1
#: Brightness swing of a patterned coat (a stripe is this much darker than the cloth between stripes).
PATTERN_CONTRAST = 0.18
#: Cloth is rounded: its edges are this much darker than its middle.
ROUNDNESS = 0.2


@dataclass(frozen=True)
class Pillar:
    """A static occluder standing on the ground."""

    xy: np.ndarray
    width: float
    height: float
    colour: tuple[int, int, int]


@dataclass
class Shape:
    kind: str  # "rect" | "ellipse"
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    colour: tuple[int, int, int]
    owner: int  # person id painted into the id map, 0 for things that are not a person
    texture: str = "flat"  # "flat" | "plain" (rounded cloth) | "stripes" | "check"
    period: float = 4.0  # pattern period in pixels


@dataclass
class Drawable:
    depth: float
    shapes: list[Shape] = field(default_factory=list)
    owner: int = 0


@dataclass(frozen=True)
class Visible:
    """What the camera sees of one person in one frame."""

    pid: int
    box: tuple[int, int, int, int]  # x, y, w, h of the visible pixels
    mask: np.ndarray  # (H, W) bool


def render_background(camera: Camera) -> np.ndarray:
    """Paved ground (tiles in world coordinates, seen through the camera) under a sky/wall band."""
    h, w = camera.height, camera.width
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(camera.K).T @ camera.R
    centre = camera.position
    hits = rays[..., 2] < -1e-6
    scale = np.where(hits, -centre[2] / np.where(hits, rays[..., 2], -1.0), 0.0)
    gx = centre[0] + scale * rays[..., 0]
    gy = centre[1] + scale * rays[..., 1]
    fx, fy = np.mod(gx / camera.tile, 1.0), np.mod(gy / camera.tile, 1.0)
    grout = (fx < 0.05) | (fy < 0.05)
    checker = (np.floor(gx / camera.tile) + np.floor(gy / camera.tile)) % 2
    shade = 0.9 + 0.08 * checker - 0.25 * grout
    fade = 1.0 / (1.0 + 0.01 * scale)  # far ground a little darker
    ground = camera.ground_colour * (shade * (0.8 + 0.2 * fade))[..., None]
    rows = (v / h)[..., None]
    sky = camera.sky_colour * (1.0 - 0.3 * rows)
    image = np.where(hits[..., None], ground, sky)
    return image.astype(np.float32)


def person_drawable(camera: Camera, person: Person, xy: np.ndarray, direction: np.ndarray) -> Drawable | None:
    """The person's parts as shapes, placed and ordered for this camera's point of view."""
    foot_head = np.array([[xy[0], xy[1], 0.0], [xy[0], xy[1], person.height], [xy[0], xy[1], person.height / 2]])
    uv, depth = camera.project(foot_head)
    if depth.min() < 0.5:
        return None
    (u, v_foot), (_, v_head) = uv[0], uv[1]
    height_px = v_foot - v_head
    if height_px < 4:
        return None
    ppm = height_px / person.height
    body = person.width * ppm
    to_camera = camera.position[:2] - xy
    to_camera = to_camera / max(np.linalg.norm(to_camera), 1e-9)
    facing = float(direction @ to_camera)  # > 0: the camera sees the front
    lateral = float(direction[0] * to_camera[1] - direction[1] * to_camera[0])
    side = 1.0 if lateral >= 0 else -1.0

    def level(fraction: float) -> float:
        return v_foot - fraction * height_px

    def band(kind, lo, hi, width, colour, centre=u, owner=person.pid, texture="plain"):
        return Shape(kind, (centre - width / 2, level(hi), centre + width / 2, level(lo)), colour, owner,
                     texture, max(2.0, 0.07 * height_px))

    pid, paint_of = person.pid, person.shades
    legs, shoulders = person.legs, person.shoulders
    shapes: list[Shape] = []
    if person.companion == "bicycle":
        wheelbase = 1.1 * abs(lateral) * ppm  # wheels line up along the direction of travel
        for offset in (-wheelbase / 2, wheelbase / 2):
            shapes.append(band("ellipse", 0.0, 0.36, 0.36 * ppm * max(abs(lateral), 0.25), (25, 25, 25), u + offset, 0,
                               "flat"))
        shapes.append(band("rect", 0.18, 0.24, wheelbase, paint_of["coat2"], u, 0, "flat"))
    bag_band = (legs + 0.07, shoulders - 0.02)
    if person.carried == "schoolbag" and facing >= -0.3:
        shapes.append(band("rect", *bag_band, 0.7 * body, paint_of["carried"], u - lateral * 0.3 * body, pid))
    shapes.append(band("rect", 0.0, 0.05, 0.7 * body, paint_of["shoes"]))
    shapes.append(band("rect", 0.04, legs, 0.72 * body, paint_of["trousers"]))
    if len(person.coat) == 1:
        shapes.append(band("rect", legs - 0.02, shoulders, body, paint_of["coat"], texture=person.texture))
    else:
        right, left = (paint_of["coat"], paint_of["coat2"]) if facing >= 0 else (paint_of["coat2"], paint_of["coat"])
        shapes.append(band("rect", legs - 0.02, shoulders, body / 2, right, u - body / 4, texture=person.texture))
        shapes.append(band("rect", legs - 0.02, shoulders, body / 2, left, u + body / 4, texture=person.texture))
    shapes.append(band("ellipse", shoulders - 0.01, 0.96, 0.38 * body, person.skin))
    if person.headwear == "cap":
        shapes.append(band("rect", 0.925, 0.985, 0.42 * body, paint_of["headwear"]))
    elif person.headwear == "helmet":
        shapes.append(band("ellipse", 0.9, 1.0, 0.5 * body, paint_of["headwear"]))
    if person.carried == "bag":
        shapes.append(band("rect", 0.33, 0.52, 0.32 * body, paint_of["carried"], u + side * 0.6 * body))
    elif person.carried == "plastic bag":
        shapes.append(band("rect", 0.22, 0.42, 0.3 * body, paint_of["carried"], u + side * 0.6 * body))
    elif person.carried == "schoolbag" and facing < -0.3:
        shapes.append(band("rect", *bag_band, 0.7 * body, paint_of["carried"]))
    return Drawable(depth=float(depth[2]), shapes=shapes, owner=pid)


def dog_drawable(camera: Camera, person: Person, xy: np.ndarray, direction: np.ndarray) -> Drawable | None:
    """A dog walking beside its owner (not part of the person's mask)."""
    left = np.array([-direction[1], direction[0]])
    spot = xy + 0.55 * left
    uv, depth = camera.project(np.array([[spot[0], spot[1], 0.0], [spot[0], spot[1], 0.45]]))
    if depth.min() < 0.5:
        return None
    ppm = (uv[0, 1] - uv[1, 1]) / 0.45
    to_camera = camera.position[:2] - spot
    lateral = abs(direction[0] * to_camera[1] - direction[1] * to_camera[0]) / max(np.linalg.norm(to_camera), 1e-9)
    length = (0.3 + 0.5 * lateral) * ppm
    u, v = uv[0]
    colour = DOG_COLOURS[person.pid % len(DOG_COLOURS)]
    body = Shape("ellipse", (u - length / 2, v - 0.42 * ppm, u + length / 2, v - 0.12 * ppm), colour, 0)
    legs = Shape("rect", (u - length / 3, v - 0.2 * ppm, u + length / 3, v), colour, 0)
    head = Shape("ellipse", (u + length / 2 - 0.12 * ppm, v - 0.55 * ppm, u + length / 2 + 0.1 * ppm, v - 0.33 * ppm), colour, 0)
    return Drawable(depth=float(depth[0]), shapes=[legs, body, head])


def prop_drawable(camera: Camera, prop: Prop) -> Drawable | None:
    """A sign (panel on a pole) or a poster board, standing as tall as a person; never labelled."""
    uv, depth = camera.project(np.array([[*prop.xy, 0.0], [*prop.xy, prop.height]]))
    if depth.min() < 0.5:
        return None
    (u, v_bottom), (_, v_top) = uv
    half = prop.width / 2 * camera.focal / depth[0]
    span = v_bottom - v_top
    top, bottom = prop.colours
    if prop.kind == "sign":
        shapes = [Shape("rect", (u - 0.12 * half, v_top, u + 0.12 * half, v_bottom), bottom, 0, "plain"),
                  Shape("rect", (u - half, v_top, u + half, v_top + 0.45 * span), top, 0, "plain")]
    else:
        shapes = [Shape("rect", (u - half, v_top + 0.5 * span, u + half, v_bottom), bottom, 0, "plain"),
                  Shape("rect", (u - half, v_top, u + half, v_top + 0.5 * span), top, 0, "plain")]
    return Drawable(depth=float(depth[0]), shapes=shapes)


def robot_drawable(camera: Camera, robot: Robot, xy: np.ndarray, direction: np.ndarray) -> Drawable | None:
    """A delivery robot: a rounded box on two dark wheels, as long as it is seen side-on."""
    uv, depth = camera.project(np.array([[xy[0], xy[1], 0.0], [xy[0], xy[1], robot.height]]))
    if depth.min() < 0.5:
        return None
    (u, v_foot), (_, v_top) = uv
    ppm = (v_foot - v_top) / robot.height
    to_camera = camera.position[:2] - xy
    lateral = abs(direction[0] * to_camera[1] - direction[1] * to_camera[0]) / max(np.linalg.norm(to_camera), 1e-9)
    half = (0.35 + (robot.length - 0.35) * lateral) * ppm / 2
    wheel = 0.14 * ppm
    shapes = [Shape("ellipse", (u - half, v_foot - 2 * wheel, u - half + 2 * wheel, v_foot), (25, 25, 25), 0),
              Shape("ellipse", (u + half - 2 * wheel, v_foot - 2 * wheel, u + half, v_foot), (25, 25, 25), 0),
              Shape("rect", (u - half, v_top, u + half, v_foot - wheel), robot.colour, 0, "plain")]
    return Drawable(depth=float(depth[0]), shapes=shapes)


def as_instance(drawable: Drawable, number: int) -> Drawable:
    """The drawable as one object numbered ``number``, everything it draws included (a bicycle, a bag)."""
    shapes = [Shape(s.kind, s.box, s.colour, number, s.texture, s.period) for s in drawable.shapes]
    return Drawable(drawable.depth, shapes, number)


def pillar_drawable(camera: Camera, pillar: Pillar) -> Drawable | None:
    uv, depth = camera.project(np.array([[*pillar.xy, 0.0], [*pillar.xy, pillar.height]]))
    if depth.min() < 0.5:
        return None
    half = pillar.width / 2 * camera.focal / depth[0]
    (u, v_bottom), (_, v_top) = uv
    return Drawable(depth=float(depth[0]), shapes=[Shape("rect", (u - half, v_top, u + half, v_bottom), pillar.colour, 0)])


def paint(camera: Camera, background: np.ndarray, drawables: list[Drawable]) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Paint far to near; returns float RGB, the id map and each person's unoccluded pixel count."""
    image = background.copy()
    ids = np.zeros((camera.height, camera.width), dtype=np.int32)
    silhouette: dict[int, int] = {}
    for drawable in sorted(drawables, key=lambda d: -d.depth):
        bounds = [_paint_shape(image, ids, s) for s in drawable.shapes]
        if drawable.owner:
            silhouette[drawable.owner] = int(sum(
                np.count_nonzero(ids[y0:y1, x0:x1] == drawable.owner) for x0, y0, x1, y1 in _merge(bounds)))
    return image, ids, silhouette


def visible_people(ids: np.ndarray, silhouette: dict[int, int]) -> list[Visible]:
    """Visible box and mask of every person that is seen well enough to be labelled."""
    out = []
    for pid, full in sorted(silhouette.items()):
        rows, cols = np.nonzero(ids == pid)
        if len(rows) < MIN_VISIBLE_PIXELS or len(rows) < MIN_VISIBLE_FRACTION * full:
            continue
        x0, x1, y0, y1 = cols.min(), cols.max(), rows.min(), rows.max()
        out.append(Visible(pid, (int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)), ids == pid))
    return out


def finish(camera: Camera, image: np.ndarray, light: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply the light field (H, W), the camera's colour cast, blur and sensor noise; return uint8 RGB."""
    image = image * light[..., None] * camera.gain.astype(np.float32) + np.float32(camera.offset)
    if camera.blur > 1:
        image = uniform_filter(image, size=(camera.blur, camera.blur, 1), mode="nearest")
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(camera.noise)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def _paint_shape(image: np.ndarray, ids: np.ndarray, shape: Shape) -> tuple[int, int, int, int]:
    h, w = ids.shape
    x0, y0, x1, y1 = shape.box
    xa, xb = max(int(round(x0)), 0), min(int(round(x1)), w)
    ya, yb = max(int(round(y0)), 0), min(int(round(y1)), h)
    if xb <= xa or yb <= ya:
        return 0, 0, 0, 0
    colour = _cloth(shape, ya, yb, xa, xb)
    if shape.kind == "rect":
        image[ya:yb, xa:xb] = colour
        ids[ya:yb, xa:xb] = shape.owner
    else:
        cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
        ry, rx = max((y1 - y0) / 2, 0.5), max((x1 - x0) / 2, 0.5)
        yy, xx = np.ogrid[ya:yb, xa:xb]
        inside = ((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2 <= 1.0
        image[ya:yb, xa:xb][inside] = colour if colour.ndim == 1 else colour[inside]
        ids[ya:yb, xa:xb][inside] = shape.owner
    return xa, ya, xb, yb


def _cloth(shape: Shape, ya: int, yb: int, xa: int, xb: int) -> np.ndarray:
    """The shape's colour over its pixels: (3,) when flat, else (h, w, 3) shaded as rounded cloth (darker
    towards the left and right edges) with its pattern (horizontal stripes, or a check)."""
    colour = np.asarray(shape.colour, np.float32)
    if shape.texture == "flat":
        return colour
    x0, _, x1, _ = shape.box
    across = (np.arange(xa, xb, dtype=np.float32) + 0.5 - (x0 + x1) / 2) / max((x1 - x0) / 2, 0.5)
    factor = np.broadcast_to(1.0 - ROUNDNESS * np.clip(across, -1, 1) ** 2, (yb - ya, xb - xa))
    if shape.texture in ("stripes", "check"):
        rows = (np.arange(ya, yb) - shape.box[1]) // (shape.period / 2) % 2
        pattern = rows[:, None].astype(np.float32)
        if shape.texture == "check":
            cols = (np.arange(xa, xb) - x0) // (shape.period / 2) % 2
            pattern = (pattern + cols[None]) % 2
        factor = factor * (1.0 - PATTERN_CONTRAST * pattern)
    return colour * factor[..., None]


def _merge(bounds: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """One box enclosing all painted shapes (an object's pixels are counted once)."""
    bounds = [b for b in bounds if b[2] > b[0]]
    if not bounds:
        return []
    a = np.array(bounds)
    return [(a[:, 0].min(), a[:, 1].min(), a[:, 2].max(), a[:, 3].max())]
