"""Segment a video with one or more sentences: masks, an overlay video and result.json.

``python tools/infer.py CONFIG CKPT INPUT --text "the cat jumping" [--text ...]
[--texts-file F] --out DIR [--grounding NAME] [--mplus SPANS] [--device DEV]``

INPUT is a video file (mp4, avi, mov, webm, mkv) or a folder of frames. See
``tgl_mm/apis/video_outputs.py`` for the outputs (written atomically).
"""
from __future__ import annotations

import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help="checkpoint (.pth); 'none' for the config's own "
                        'initialisation')
    parser.add_argument('input', help='video file (mp4, avi, mov, webm, mkv) or frame folder')
    parser.add_argument('--text', action='append', default=[], metavar='SENTENCE',
                        help='a referring expression (repeat for several)')
    parser.add_argument('--texts-file', metavar='FILE',
                        help='more sentences, one per line (blank lines are skipped)')
    parser.add_argument('--out', required=True, metavar='DIR', help='output folder')
    parser.add_argument('--grounding', metavar='NAME',
                        help='how M+ is chosen: none (whole video), oracle (the --mplus spans), '
                        'tam, ...; default: oracle with --mplus, else none')
    parser.add_argument('--mplus', action='append', default=[], metavar='SPANS',
                        help='M+ frames as "a-b,c,d-e" (0-based, inclusive): once for every '
                        'sentence or once per sentence, in order')
    parser.add_argument('--device', default='cpu', help='torch device (cpu, cuda, cuda:1)')
    parser.add_argument('--no-overlay', action='store_true', help='skip overlay.mp4')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from tgl_mm.apis import init_model
    from tgl_mm.apis.video_outputs import infer_video, read_texts_file

    texts = list(args.text)
    if args.texts_file:
        texts += read_texts_file(args.texts_file)
    if not texts:
        sys.exit('tools/infer.py: give at least one --text or a --texts-file')
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    record = infer_video(model, args.input, texts, args.out, grounding=args.grounding,
                         mplus_specs=args.mplus, overlay=not args.no_overlay)
    t = record['timings']
    print(f'{record["num_frames"]} frames x {len(texts)} sentences in {t["total"]:.1f} s '
          f'({t["frames_per_s"]} frames/s); image-encoder passes per frame and sentence: '
          f'{record["encoder"]["passes_per_sentence"]}; outputs in {args.out}')
    return record


if __name__ == '__main__':
    main()
