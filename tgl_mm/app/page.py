"""The Gradio page of the demo (``tools/app.py``): inputs on the left, results on the right.

One model serves the page; requests go through Gradio's queue one at a time (one request's
encoder work fills the machine), so a second request waits in line, with its position shown, and
is not lost. A request passes its grounding with the call and never changes the model. Every
failure of a request (bad video, empty sentence, malformed spans or prediction file, a limit of
:class:`~tgl_mm.app.limits.AppLimits`, an unexpected exception) becomes a message in the
status box; the server keeps serving. Text from the request is shown literally
(:func:`~tgl_mm.app.markup.escape_markdown`, no LaTeX in the status box). The page serves files
only from the app's own folders (:func:`~tgl_mm.app.limits.served_folders`), never the whole
work dir. Needs ``pip install -e .[app]``.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from tgl_mm.apis.video_io import VIDEO_EXTENSIONS
from tgl_mm.app.examples import Example, make_examples
from tgl_mm.app.inputs import (
    AUTO,
    FILE_GROUNDINGS,
    GROUNDING_CHOICES,
    SPAN_GROUNDINGS,
    check_video,
    grounding_config,
    parse_sentences,
)
from tgl_mm.app.limits import AppLimits, check_own_folders, served_folders
from tgl_mm.app.markup import escape_markdown
from tgl_mm.app.session import RequestFolders, run_request
from tgl_mm.app.timeline import timeline_figure
from tgl_mm.models.segmentors.inference_interface import StreamingSegmentor

logger = logging.getLogger(__name__)

#: the error types a request reports as a plain message (input problems, not bugs)
EXPECTED_ERRORS = (ValueError, FileNotFoundError, KeyError, OSError)

CACHE_SWEEP_S = 3600       # how often Gradio's cache of uploads and results is swept
CACHE_AGE_S = 6 * 3600     # ... and the age (seconds) from which its files are deleted

INTRO = """# tgl_mm demo: referring video object segmentation with temporal grounding
Upload a video (or pick a synthetic example), type one sentence per line, choose how M+ (the
frames where the sentence happens) is found, and press **Segment**. See `docs/app.md`."""


def error_message(error: BaseException, hide: dict[str, str]) -> str:
    """The page's text for ``error``: its message (a ``KeyError`` unquoted), server paths in
    ``hide`` replaced by what the user knows them as (an upload's file name)."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    text = str(text)
    for path, name in sorted(hide.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, name)
    if not isinstance(error, EXPECTED_ERRORS):
        text = f'unexpected {type(error).__name__}: {text} (details in the server log)'
    return text


def status_line(record: dict, num_sentences: int) -> str:
    """The status box after a request: frames, sentences, the grounding that ran, time, and
    the run's warnings (escaped: they quote sentences)."""
    timings = record['timings']
    status = (f'**Done:** {record["num_frames"]} frames x {num_sentences} sentence(s), '
              f'grounding `{escape_markdown(record["grounding"])}`, {timings["total"]:.1f} s '
              f'({timings["frames_per_s"]} frames/s).')
    for warning in record.get('warnings') or ():
        status += f'  \n**Warning:** {escape_markdown(warning)}'
    return status


class DemoApp:
    """The model, the request folders and the examples behind one page.

    Args:
        model: a :class:`StreamingSegmentor` (e.g. a ``TGLSAM2`` from
            :func:`~tgl_mm.apis.init_model`).
        work_dir: the app's folders go here: ``requests/`` and ``examples/``, the only ones
            served to the page (each must hold nothing but what the app makes there).
        num_examples: synthetic examples to generate (0: none).
        keep_requests: request folders kept on disk.
        limits: what one request may cost (default :class:`AppLimits`).
    """

    def __init__(self, model: StreamingSegmentor, work_dir: str | os.PathLike,
                 num_examples: int = 3, keep_requests: int = 16,
                 limits: AppLimits | None = None) -> None:
        self.model = model
        self.work_dir = Path(work_dir)
        self.limits = limits or AppLimits()
        folders = check_own_folders(self.work_dir)
        self.folders = RequestFolders(folders['requests'], keep=keep_requests)
        self.examples: list[Example] = (make_examples(folders['examples'], num_examples)
                                        if num_examples else [])
        self._lock = threading.Lock()  # one request at a time even if the queue is widened

    def example(self, name: str | None) -> tuple[Any, Any, Any, Any]:
        """Fill the inputs from the example called ``name``: (video, sentences, grounding,
        spans); unchanged fields for no choice."""
        for example in self.examples:
            if example.name == name:
                return (str(example.video), '\n'.join(example.sentences), SPAN_GROUNDINGS[0],
                        '\n'.join(example.spans))
        return gr.update(), gr.update(), gr.update(), gr.update()

    def segment(self, video: str | None, sentences: str, grounding: str, spans: str,
                pred_file: str | None, top_k: float,
                progress: gr.Progress = gr.Progress(track_tqdm=True)  # noqa: B008
                ) -> tuple[str, str | None, Any, str | None]:
        """Run one request: (status markdown, overlay video, timeline figure, masks zip)."""
        hide = {str(p): Path(p).name for p in (video, pred_file) if p}
        try:
            texts = parse_sentences(sentences)
            path = check_video(video)
            config, specs = grounding_config(grounding, len(texts), spans, pred_file,
                                             int(top_k or 1))
            progress(0.0, desc='waiting for the model')
            with self._lock:
                result = run_request(self.model, path, texts, self.folders.new(), config,
                                     specs, source_name=path.name, limits=self.limits)
            record = result.record
        except Exception as error:  # noqa: BLE001 - every failure becomes a message
            if not isinstance(error, EXPECTED_ERRORS):
                logger.exception('request failed')
            return (f'**Error:** {escape_markdown(error_message(error, hide))}', None, None,
                    None)
        return (status_line(record, len(texts)), str(result.overlay), timeline_figure(record),
                str(result.masks_zip))

    def build(self) -> gr.Blocks:
        """The page (call ``.queue()`` and ``.launch()`` on it, see :func:`launch`)."""
        # Gradio copies every upload and result into its cache: files older than CACHE_AGE_S are
        # deleted every CACHE_SWEEP_S, so a long-running server does not fill the disk
        with gr.Blocks(title='tgl_mm demo', delete_cache=(CACHE_SWEEP_S, CACHE_AGE_S)) as page:
            gr.Markdown(INTRO)
            with gr.Row():
                with gr.Column(scale=2):
                    example = gr.Dropdown([e.name for e in self.examples], value=None,
                                          label='Synthetic example', elem_id='example',
                                          visible=bool(self.examples),
                                          info='fills the video, sentences and true M+ spans')
                    video = gr.File(label='Video', file_types=list(VIDEO_EXTENSIONS),
                                    type='filepath', elem_id='video')
                    sentences = gr.Textbox(label='Sentences (one per line)', lines=3,
                                           placeholder='the circle jumping\nthe red square',
                                           elem_id='sentences')
                    grounding = gr.Radio(list(GROUNDING_CHOICES), value=AUTO,
                                         label='Grounding (how M+ is chosen)',
                                         info='; '.join(f'{k}: {v}' for k, v in
                                                        GROUNDING_CHOICES.items()),
                                         elem_id='grounding')
                    spans = gr.Textbox(label=f'M+ spans ({" / ".join(SPAN_GROUNDINGS)})',
                                       lines=2,
                                       placeholder='3-12,15,20-  (0-based frames, inclusive; '
                                       '"20-": to the last frame; one line for all sentences '
                                       'or one per sentence)',
                                       elem_id='spans')
                    with gr.Row():
                        pred_file = gr.File(label=f'Prediction file '
                                            f'({" / ".join(FILE_GROUNDINGS)})',
                                            file_types=['.jsonl', '.json', '.txt'],
                                            type='filepath', elem_id='pred-file')
                        top_k = gr.Number(1, label='windows per sentence (top_k)',
                                          minimum=1, precision=0, elem_id='top-k')
                    run = gr.Button('Segment', variant='primary', elem_id='run')
                with gr.Column(scale=3):
                    status = gr.Markdown('Ready.', elem_id='status', latex_delimiters=[])
                    overlay = gr.Video(label='Overlay (masks, legend, M+ strip per sentence)',
                                       format=None, interactive=False, loop=True,
                                       height=420, elem_id='overlay')
                    gr.Markdown('**M+ (shaded) and per-frame scores**, one row per sentence')
                    timeline = gr.Plot(show_label=False, format='png', elem_id='timeline')
                    masks_zip = gr.File(label='Masks (zip: masks/<k>/<t>.png = sentence k, '
                                        '0-based as typed, frame t, the 0-based index in the '
                                        'video; and result.json)', interactive=False,
                                        elem_id='masks-zip')
            example.change(self.example, example, [video, sentences, grounding, spans],
                           concurrency_limit=None)
            run.click(self.segment, [video, sentences, grounding, spans, pred_file, top_k],
                      [status, overlay, timeline, masks_zip], concurrency_limit=1,
                      concurrency_id='model')
        return page


def launch(app: DemoApp, host: str = '127.0.0.1', port: int = 7860,
           max_queue: int = 16, block: bool = True) -> gr.Blocks:
    """Serve ``app`` on ``host:port`` with a request queue of ``max_queue`` (one request runs
    at a time); ``block=False`` returns once the server is up. Files are served only from the
    app's own folders (:func:`served_folders`), uploads are capped at the limits' size."""
    page = app.build().queue(max_size=max_queue, default_concurrency_limit=1)
    allowed = [str(folder) for folder in served_folders(app.work_dir).values()]
    page.launch(server_name=host, server_port=port, allowed_paths=allowed,
                show_error=True, prevent_thread_lock=not block, ssr_mode=False, quiet=False,
                footer_links=[], max_file_size=int(app.limits.max_upload_mb * 1_000_000))
    return page


__all__ = ['DemoApp', 'launch', 'error_message', 'status_line', 'EXPECTED_ERRORS']
