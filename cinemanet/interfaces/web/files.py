"""Media routes: a catalogued video file (with range requests) and keyframes as JPEG."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, Response

from .media import KEYFRAME_WIDTHS, MediaRefused, media_type, safe_media_path
from .state import _State, get_state

router = APIRouter(tags=["media"])


@router.head("/media/{media_id}", include_in_schema=False)
@router.get(
    "/media/{media_id}",
    summary="The video file of a catalogued media (HTTP range requests: 206)",
    responses={206: {"description": "Partial content"}},
)
def media_file(media_id: int, state: _State = Depends(get_state)):
    m = state.media_or_404(media_id)
    try:
        path = safe_media_path(m)
    except MediaRefused as e:
        raise HTTPException(e.status, str(e)) from None
    return FileResponse(path, media_type=media_type(path), headers={"Cache-Control": "private, max-age=3600"})


@router.head("/keyframes/{shot_id}/{k}.jpg", include_in_schema=False)
@router.get(
    "/keyframes/{shot_id}/{k}.jpg",
    summary="A keyframe of a shot as JPEG (extracted on demand, cached)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def keyframe(shot_id: int, k: int, w: int = Query(320), state: _State = Depends(get_state)):
    if w not in KEYFRAME_WIDTHS:
        raise HTTPException(400, f"w must be one of {', '.join(map(str, KEYFRAME_WIDTHS))}")
    row = state.catalog.shot_rows([shot_id]).get(shot_id)
    if row is None:
        raise HTTPException(404, f"no shot {shot_id} in the catalog")
    times = json.loads(row["extra"]).get("keyframe_times") or []
    if not 0 <= k < len(times):
        raise HTTPException(404, f"shot {shot_id} has {len(times)} keyframes")
    m = state.media_or_404(row["media_id"])
    try:
        data = state.keyframes.get(m, float(times[k]), w)
    except MediaRefused as e:
        raise HTTPException(e.status, str(e)) from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
