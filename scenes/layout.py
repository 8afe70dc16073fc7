"""The building layout behind a scene source, for sources that AirTwin builds itself."""

from __future__ import annotations

from airtwin.scenes.spec import SceneSource


def scene_layout(source: SceneSource):
    """:class:`~scenes.procedural.CityLayout` for procedural cities, :class:`~scenes.footprints.FootprintLayout`
    for footprint scenes, ``None`` for built-in, XML and empty scenes.

    Both layouts offer ``bounds``, ``is_outdoor(xy, margin_m)``, ``height_map(x, y)`` and
    ``write_scene(folder, carrier_frequency_hz)``.
    """
    if source.kind == "procedural":
        from airtwin.scenes.procedural import generate_city  # noqa: PLC0415

        return generate_city(source.city)
    if source.kind == "footprints":
        from airtwin.scenes.footprints import load_footprints  # noqa: PLC0415

        return load_footprints(source.footprints)
    return None
