/*
 * Compiled kernel for tgl_mm.evaluation.functional.davis_jf: the per-frame pixel counts behind the
 * DAVIS J and F measures, for a whole video in one call (the GIL is released).
 *
 * For every frame t it writes six int64 counts to out[6 t .. 6 t + 5]:
 *   |pred & gt|, |pred | gt|, boundary pixels of pred, of gt, pred boundary pixels matched
 *   (a gt boundary pixel lies in the disk of radius r around them), gt boundary pixels matched.
 * davis_jf.py turns them into J and F with the same float operations as the DAVIS definition.
 *
 * Method (independent of any other implementation; see davis_jf.py for the definition):
 *   1. One pass over both masks, 8 pixels per 64-bit word: the three pixel counts, the rows and
 *      the columns that hold foreground.
 *   2. In the box around the foreground: boundary flags of both masks, again 8 pixels per word
 *      (a pixel is a boundary pixel when the 2x2 block anchored at it, clipped to the image, is
 *      not constant: exactly DAVIS's seg2bmap), stored as one bit per pixel.
 *   3. Each boundary pixel looks for a boundary pixel of the other mask row by row in the disk
 *      (row y + dy, columns x - w .. x + w with w = floor(sqrt(r^2 - dy^2))), nearest rows
 *      first, stopping at the first hit: a span test on the bit rows.
 *
 * Masks are bytes that are 0 or 1 (numpy bool). Little-endian only; elsewhere the build fails
 * and tgl_mm uses its numpy implementation (same values).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_MSC_VER) /* Windows targets are little-endian */
#include <intrin.h>
static inline int64_t lowest_bit(uint64_t x)
{
    unsigned long i;
    _BitScanForward64(&i, x);
    return (int64_t)i;
}
#else
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the J&F kernel assumes a little-endian machine"
#endif
static inline int64_t lowest_bit(uint64_t x)
{
    return __builtin_ctzll(x);
}
#endif

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Sum of the bytes of a word whose bytes are each <= 255 (an accumulator of 0/1 words). */
static inline uint64_t byte_sum(uint64_t acc)
{
    uint64_t t = (acc & 0x00FF00FF00FF00FFULL) + ((acc >> 8) & 0x00FF00FF00FF00FFULL);
    return (t * 0x0001000100010001ULL) >> 48;
}

/* The eight 0/1 bytes of a word as eight bits: byte k (k-th in memory) -> bit k. */
static inline uint64_t pack_bytes(uint64_t w)
{
    return (w * 0x0102040810204080ULL) >> 56;
}

/* Is any bit in [lo, hi] of a bit row set? (hi >= lo; the row has a spare word after hi.) */
static inline int span_any(const uint64_t *row, int64_t lo, int64_t hi)
{
    int64_t k = lo >> 6, s = lo & 63, len = hi - lo + 1;
    if (len < 64) { /* one unaligned 64-bit window */
        uint64_t v = row[k] >> s;
        if (s)
            v |= row[k + 1] << (64 - s);
        return (v & ((1ULL << len) - 1)) != 0;
    }
    int64_t ke = hi >> 6;
    uint64_t last_mask = ~0ULL >> (63 - (hi & 63));
    if (k == ke)
        return (row[k] & (~0ULL << s) & last_mask) != 0;
    if (row[k] & (~0ULL << s))
        return 1;
    for (int64_t j = k + 1; j < ke; j++)
        if (row[j])
            return 1;
    return (row[ke] & last_mask) != 0;
}

typedef struct {
    int64_t height, width, radius;
    const int64_t *dys, *half_widths; /* 2 r + 1 row offsets, nearest first, and their w */
    uint64_t *col_any;                /* ceil(W / 8) words */
    uint64_t *bits[2];                /* boundary bit rows of pred, gt: H x words_per_row */
} Work;

/* Boundary bits of one mask in rows [by0, by1) x columns [bx0, bx1), bit column x - bx0 + r
 * (r spare bits left and right of the box, and a spare word). Returns the number of bits set. */
static int64_t boundary_bits(const Work *w, const uint8_t *mask, int64_t by0, int64_t by1,
                             int64_t bx0, int64_t bx1, uint64_t *bits, int64_t words_per_row)
{
    const int64_t H = w->height, W = w->width, r = w->radius;
    int64_t count = 0;
    memset(bits, 0, (size_t)((by1 - by0) * words_per_row) * sizeof *bits);
    for (int64_t y = by0; y < by1; y++) {
        const uint8_t *r0 = mask + y * W;
        const uint8_t *r1 = mask + (y + 1 < H ? y + 1 : y) * W; /* clipped to the image */
        uint64_t *row = bits + (y - by0) * words_per_row;
        int64_t x = bx0;
        for (; x < bx1 && x + 8 < W; x += 8) { /* reads columns x .. x + 8 */
            uint64_t a = load64(r0 + x), b = load64(r0 + x + 1);
            uint64_t c = load64(r1 + x), d = load64(r1 + x + 1);
            uint64_t f = (a ^ b) | (a ^ c) | (a ^ d);
            if (x + 8 > bx1)
                f &= ~0ULL >> (8 * (x + 8 - bx1));
            if (!f)
                continue;
            uint64_t p = pack_bytes(f);
            int64_t c0 = x - bx0 + r, k = c0 >> 6, s = c0 & 63;
            row[k] |= p << s;
            if (s > 56)
                row[k + 1] |= p >> (64 - s);
            count += byte_sum(f);
        }
        for (; x < bx1; x++) { /* the last columns, one by one */
            uint8_t a = r0[x], c = r1[x];
            uint8_t b = x + 1 < W ? r0[x + 1] : a, d = x + 1 < W ? r1[x + 1] : c;
            if ((a ^ b) | (a ^ c) | (a ^ d)) {
                int64_t c0 = x - bx0 + r;
                row[c0 >> 6] |= 1ULL << (c0 & 63);
                count++;
            }
        }
    }
    return count;
}

/* How many set bits of `own` have a set bit of `other` within the disk around them. */
static int64_t matched_bits(const Work *w, const uint64_t *own, const uint64_t *other,
                            int64_t rows, int64_t words_per_row)
{
    const int64_t n_dy = 2 * w->radius + 1;
    int64_t matched = 0;
    for (int64_t i = 0; i < rows; i++) {
        const uint64_t *row = own + i * words_per_row;
        for (int64_t k = 0; k < words_per_row; k++) {
            uint64_t word = row[k];
            while (word) {
                int64_t c = k * 64 + lowest_bit(word);
                word &= word - 1;
                for (int64_t j = 0; j < n_dy; j++) {
                    int64_t ii = i + w->dys[j];
                    if (ii < 0 || ii >= rows)
                        continue;
                    int64_t hw = w->half_widths[j];
                    if (span_any(other + ii * words_per_row, c - hw, c + hw)) {
                        matched++;
                        break;
                    }
                }
            }
        }
    }
    return matched;
}

/* The six counts of one frame; returns 0 when a mask byte is neither 0 nor 1 (counts invalid). */
static int frame_counts(const Work *w, const uint8_t *pred, const uint8_t *gt, int64_t *out)
{
    const int64_t H = w->height, W = w->width, r = w->radius;
    int64_t n_pred = 0, n_gt = 0, inter = 0, y0 = -1, y1 = -1;
    memset(w->col_any, 0, (size_t)((W + 7) / 8) * sizeof *w->col_any);
    for (int64_t y = 0; y < H; y++) {
        const uint8_t *p = pred + y * W, *g = gt + y * W;
        int64_t row_p = 0, row_g = 0, row_i = 0, x = 0;
        uint64_t any = 0;
        while (x + 8 <= W) {
            /* byte lanes of 0/1 words count up to 255 before they would carry */
            const int64_t end = x + 8 * 255 < W ? x + 8 * 255 : W;
            uint64_t sp = 0, sg = 0, si = 0;
            for (; x + 8 <= end; x += 8) {
                uint64_t a = load64(p + x), b = load64(g + x);
                any |= a | b;
                sp += a;
                sg += b;
                si += a & b;
            }
            row_p += byte_sum(sp), row_g += byte_sum(sg), row_i += byte_sum(si);
        }
        for (; x < W; x++) {
            any |= p[x] | g[x];
            row_p += p[x], row_g += g[x], row_i += p[x] & g[x];
        }
        if (any & 0xFEFEFEFEFEFEFEFEULL)
            return 0;
        if (!any)
            continue;
        if (y0 < 0)
            y0 = y;
        y1 = y + 1;
        n_pred += row_p, n_gt += row_g, inter += row_i;
        for (x = 0; x + 8 <= W; x += 8) /* the row is in cache now */
            w->col_any[x / 8] |= load64(p + x) | load64(g + x);
        for (; x < W; x++)
            ((uint8_t *)w->col_any)[x] |= p[x] | g[x];
    }
    out[0] = inter;
    out[1] = n_pred + n_gt - inter;
    out[2] = out[3] = out[4] = out[5] = 0;
    if (y0 < 0)
        return 1; /* both masks empty */
    const uint8_t *col_bytes = (const uint8_t *)w->col_any;
    int64_t x0 = 0, x1 = W;
    while (!col_bytes[x0])
        x0++;
    while (!col_bytes[x1 - 1])
        x1--;
    /* boundary pixels lie in rows y0 - 1 .. y1 - 1 and columns x0 - 1 .. x1 - 1 */
    const int64_t by0 = y0 > 0 ? y0 - 1 : 0, bx0 = x0 > 0 ? x0 - 1 : 0;
    const int64_t rows = y1 - by0, words_per_row = (x1 - bx0 + 2 * r) / 64 + 2;
    out[2] = boundary_bits(w, pred, by0, y1, bx0, x1, w->bits[0], words_per_row);
    out[3] = boundary_bits(w, gt, by0, y1, bx0, x1, w->bits[1], words_per_row);
    if (out[2] && out[3]) {
        out[4] = matched_bits(w, w->bits[0], w->bits[1], rows, words_per_row);
        out[5] = matched_bits(w, w->bits[1], w->bits[0], rows, words_per_row);
    }
    return 1;
}

PyDoc_STRVAR(counts_doc,
"counts(pred, gt, num, height, width, radius, out)\n--\n\n"
"Per-frame J&F pixel counts of two C-contiguous 0/1 byte buffers of num * height * width\n"
"bytes (numpy bool (T, H, W) masks) into `out`, a writable int64 buffer of num * 6 values:\n"
"|pred & gt|, |pred | gt|, boundary pixels of pred and gt, and how many of each are matched\n"
"(a boundary pixel of the other mask within `radius`). Returns False, with `out` undefined, when\n"
"a byte is neither 0 nor 1 (e.g. a uint8 0/255 array viewed as bool), else True.");

static PyObject *counts(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer pred, gt, out;
    Py_ssize_t num, height, width, radius;
    if (!PyArg_ParseTuple(args, "y*y*nnnnw*", &pred, &gt, &num, &height, &width, &radius, &out))
        return NULL;
    PyObject *result = NULL;
    int64_t *dys = NULL, *half_widths = NULL;
    Work w = {0};
    if (num < 0 || height <= 0 || width <= 0 || radius < 0) {
        PyErr_SetString(PyExc_ValueError, "counts: need num >= 0, height, width > 0, radius >= 0");
        goto done;
    }
    if (pred.len != num * height * width || gt.len != pred.len) {
        PyErr_SetString(PyExc_ValueError, "counts: pred and gt must hold num * height * width bytes");
        goto done;
    }
    if (out.len != num * 6 * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "counts: out must hold num * 6 int64 values");
        goto done;
    }
    const int64_t n_dy = 2 * radius + 1;
    const int64_t words_per_row = (width + 2 * radius) / 64 + 2;
    dys = malloc((size_t)n_dy * sizeof *dys);
    half_widths = malloc((size_t)n_dy * sizeof *half_widths);
    w.col_any = malloc((size_t)((width + 7) / 8) * sizeof(uint64_t));
    w.bits[0] = malloc((size_t)(height * words_per_row) * sizeof(uint64_t));
    w.bits[1] = malloc((size_t)(height * words_per_row) * sizeof(uint64_t));
    if (!dys || !half_widths || !w.col_any || !w.bits[0] || !w.bits[1]) {
        PyErr_NoMemory();
        goto done;
    }
    for (int64_t j = 0; j < n_dy; j++) { /* 0, -1, 1, -2, 2, ...: nearest rows first */
        int64_t dy = (j + 1) / 2 * (j % 2 ? -1 : 1), hw = 0;
        while ((hw + 1) * (hw + 1) + dy * dy <= radius * radius)
            hw++;
        dys[j] = dy;
        half_widths[j] = hw;
    }
    w.height = height, w.width = width, w.radius = radius;
    w.dys = dys, w.half_widths = half_widths;
    const uint8_t *p = pred.buf, *g = gt.buf;
    int64_t *o = out.buf;
    int binary = 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t t = 0; t < num && binary; t++)
        binary = frame_counts(&w, p + t * height * width, g + t * height * width, o + 6 * t);
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(binary);
done:
    free(dys);
    free(half_widths);
    free(w.col_any);
    free(w.bits[0]);
    free(w.bits[1]);
    PyBuffer_Release(&pred);
    PyBuffer_Release(&gt);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"counts", counts, METH_VARARGS, counts_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_davis_jf_kernel",
    "Compiled per-frame counts for tgl_mm's DAVIS J&F (see davis_jf.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__davis_jf_kernel(void)
{
    return PyModule_Create(&module);
}
