"""The browser demo (``tools/app.py``): upload a video, type sentences, see masks and moments.

Built on the streaming inference API (:func:`tgl_mm.apis.video_outputs.infer_video`); only
:mod:`tgl_mm.app.page` needs Gradio (``pip install -e .[app]``), the other modules are plain
Python and are tested without a browser.

- :mod:`tgl_mm.app.inputs`: the page's text fields and uploads checked and turned into API
  arguments (sentences, oracle spans, grounding config);
- :mod:`tgl_mm.app.session`: one request: ``infer_video`` into a request folder, the masks
  zipped, old request folders pruned;
- :mod:`tgl_mm.app.limits`: what one request may cost (sentences, upload size, pixels, time)
  and the only folders the page serves;
- :mod:`tgl_mm.app.markup`: request text shown literally in the status box;
- :mod:`tgl_mm.app.timeline`: each sentence's M+ against its per-frame scores, as a figure;
- :mod:`tgl_mm.app.examples`: a few synthetic example videos the app makes itself;
- :mod:`tgl_mm.app.page`: the Gradio page;
- :mod:`tgl_mm.app.browser`: the app served and driven in headless Chromium (the browser test,
  the docs screenshot ``tools/analysis/app_screenshot.py``).
"""
from .inputs import GROUNDING_CHOICES, AppInputError, grounding_config, parse_sentences
from .session import DemoResult, RequestFolders, run_request, zip_masks

__all__ = ['GROUNDING_CHOICES', 'AppInputError', 'grounding_config', 'parse_sentences',
           'DemoResult', 'RequestFolders', 'run_request', 'zip_masks']
