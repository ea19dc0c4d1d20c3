#include "learner/dist.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"
#include <limits.h>
#include <stdio.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct aha_dist {
    int rank, size;
    int owns_mpi;   /* this layer called MPI_Init_thread: it finalizes */
    double comm_ms; /* wall time inside collectives (waiting for other ranks included) */
};

static int mpi_fail(int err, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", err);
    return AHA_FAIL(AHA_ERR_NET, "%s: %s", what, msg);
}

int aha_dist_launched(void) {
    const char *force = getenv("AHA_MPI");
    if (force && *force) return strcmp(force, "0") != 0;
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                       NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int aha_dist_init(aha_dist_t **out) {
    if (!out) return AHA_FAIL(AHA_ERR_ARG, "aha_dist_init: NULL argument");
    aha_dist_t *d = calloc(1, sizeof *d);
    if (!d) return AHA_FAIL(AHA_ERR_NOMEM, "dist");
    d->size = 1;
    if (aha_dist_launched()) {
        int inited = 0, provided = 0;
        MPI_Initialized(&inited);
        if (!inited) {
            int e = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
            if (e != MPI_SUCCESS) {
                free(d);
                return mpi_fail(e, "MPI_Init_thread");
            }
            d->owns_mpi = 1;
        }
        /* errors come back as codes (reported with their MPI string), not as an abort */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    }
    *out = d;
    return AHA_OK;
}

void aha_dist_finalize(aha_dist_t **dp) {
    if (!dp || !*dp) return;
    if ((*dp)->owns_mpi) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin) MPI_Finalize();
    }
    free(*dp);
    *dp = NULL;
}

void aha_dist_abort(const aha_dist_t *d, int code) {
    if (d && d->size > 1) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
}

int aha_dist_rank(const aha_dist_t *d) {
    return d ? d->rank : 0;
}
int aha_dist_size(const aha_dist_t *d) {
    return d ? d->size : 1;
}
int aha_dist_active(const aha_dist_t *d) {
    return d && d->size > 1;
}

double aha_dist_comm_ms(const aha_dist_t *d) {
    return d ? d->comm_ms : 0;
}

/* Adds the time since T0 to the collectives' total (the handle is the caller's; the counter is
 * bookkeeping only). */
static void add_comm(const aha_dist_t *d, double t0) {
    ((aha_dist_t *)d)->comm_ms += aha_now_ms() - t0;
}

int aha_dist_allreduce_f32(const aha_dist_t *d, float *buf, size_t n) {
    if (!aha_dist_active(d)) return AHA_OK;
    const double t0 = aha_now_ms();
    for (size_t at = 0; at < n; at += AHA_DIST_BUCKET) {
        const size_t k = n - at < AHA_DIST_BUCKET ? n - at : AHA_DIST_BUCKET;
        int e = MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Allreduce (float)");
    }
    add_comm(d, t0);
    return AHA_OK;
}

void aha_dist_shard(const aha_dist_t *d, size_t n, size_t *lo, size_t *count) {
    const size_t r = (size_t)aha_dist_rank(d), N = (size_t)aha_dist_size(d);
    const size_t a = n / N * r + (n % N) * r / N, b = n / N * (r + 1) + (n % N) * (r + 1) / N;
    *lo = a;
    *count = b - a;
}

enum { MAX_RANKS_STACK = 256 };

/* The shard bounds lo[0..size] of every rank for the collective WHAT, as ints for MPI
 * (AHA_ERR_RANGE past INT_MAX elements or MAX_RANKS_STACK ranks). */
static int shard_bounds(const aha_dist_t *d, size_t n, const char *what, size_t *lo) {
    if (d->size > MAX_RANKS_STACK)
        return AHA_FAIL(AHA_ERR_RANGE, "%s over %d ranks (max %d)", what, d->size, MAX_RANKS_STACK);
    if (n > INT_MAX) return AHA_FAIL(AHA_ERR_RANGE, "ZeRO-1 shards of %zu floats (> INT_MAX)", n);
    const size_t N = (size_t)d->size;
    for (size_t r = 0; r <= N; r++)
        lo[r] = n / N * r + (n % N) * r / N;
    return AHA_OK;
}

int aha_dist_reduce_scatter_f32(const aha_dist_t *d, float *buf, size_t n) {
    if (!aha_dist_active(d)) return AHA_OK;
    size_t lo[MAX_RANKS_STACK + 1];
    int counts[MAX_RANKS_STACK];
    AHA_TRY(shard_bounds(d, n, "reduce-scatter", lo));
    const double t0 = aha_now_ms();
    /* bucket [b0, b1): rank r receives the sum of its shard's part of the bucket; in place, the
     * result lands at the start of the bucket and moves to where the shard has it */
    for (size_t b0 = 0; b0 < n; b0 += AHA_DIST_BUCKET) {
        const size_t b1 = n - b0 < AHA_DIST_BUCKET ? n : b0 + AHA_DIST_BUCKET;
        for (int r = 0; r < d->size; r++) {
            const size_t a = lo[r] > b0 ? lo[r] : b0, b = lo[r + 1] < b1 ? lo[r + 1] : b1;
            counts[r] = b > a ? (int)(b - a) : 0;
        }
        int e = MPI_Reduce_scatter(MPI_IN_PLACE, buf + b0, counts, MPI_FLOAT, MPI_SUM,
                                   MPI_COMM_WORLD);
        if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Reduce_scatter (float)");
        const size_t mine = lo[d->rank] > b0 ? lo[d->rank] : b0;
        if (counts[d->rank] > 0 && mine != b0)
            memmove(buf + mine, buf + b0, sizeof(float) * (size_t)counts[d->rank]);
    }
    add_comm(d, t0);
    return AHA_OK;
}

int aha_dist_allgather_f32(const aha_dist_t *d, float *buf, size_t n) {
    if (!aha_dist_active(d)) return AHA_OK;
    size_t lo[MAX_RANKS_STACK + 1];
    int counts[MAX_RANKS_STACK], displs[MAX_RANKS_STACK];
    AHA_TRY(shard_bounds(d, n, "allgather", lo));
    for (int r = 0; r < d->size; r++) {
        counts[r] = (int)(lo[r + 1] - lo[r]);
        displs[r] = (int)lo[r];
    }
    const double t0 = aha_now_ms();
    int e = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT,
                           MPI_COMM_WORLD);
    if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Allgatherv (float)");
    add_comm(d, t0);
    return AHA_OK;
}

int aha_dist_allreduce_f64(const aha_dist_t *d, double *buf, int n, int is_max) {
    if (!aha_dist_active(d) || n <= 0) return AHA_OK;
    int e =
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, is_max ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD);
    return e == MPI_SUCCESS ? AHA_OK : mpi_fail(e, "MPI_Allreduce (double)");
}

int aha_dist_bcast(const aha_dist_t *d, void *buf, size_t bytes, int root) {
    if (!aha_dist_active(d)) return AHA_OK;
    const double t0 = aha_now_ms();
    const size_t chunk = (size_t)INT_MAX / 2;
    for (size_t at = 0; at < bytes; at += chunk) {
        const size_t k = bytes - at < chunk ? bytes - at : chunk;
        int e = MPI_Bcast((char *)buf + at, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Bcast");
    }
    add_comm(d, t0);
    return AHA_OK;
}

int aha_dist_barrier(const aha_dist_t *d) {
    if (!aha_dist_active(d)) return AHA_OK;
    int e = MPI_Barrier(MPI_COMM_WORLD);
    return e == MPI_SUCCESS ? AHA_OK : mpi_fail(e, "MPI_Barrier");
}

/* Waits for REQ, polling with 200 us sleeps instead of Open MPI's busy wait. */
static int wait_idle(MPI_Request *req) {
    for (int done = 0; !done;) {
        int e = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Test");
        if (!done) nanosleep(&(struct timespec){0, 200 * 1000}, NULL);
    }
    return AHA_OK;
}

int aha_dist_all_ok(const aha_dist_t *d, int e) {
    if (!aha_dist_active(d)) return e;
    int bad = e != AHA_OK, any = 0;
    MPI_Request req;
    const double t0 = aha_now_ms();
    int me = MPI_Iallreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req);
    if (me != MPI_SUCCESS) return e != AHA_OK ? e : mpi_fail(me, "MPI_Iallreduce");
    me = wait_idle(&req);
    add_comm(d, t0);
    if (e != AHA_OK) return e;
    if (me != AHA_OK) return me;
    return any ? AHA_FAIL(AHA_ERR_STATE, "another learner rank failed (see its log)") : AHA_OK;
}

void aha_dist_share(int r0, int r1, int group, int rank, int size, int *a, int *b) {
    if (group < 1) group = 1;
    if (size < 1) size = 1;
    /* groups overlapping [r0, r1), counted from the first group touching r0 */
    const int g0 = r0 / group, g1 = (r1 + group - 1) / group, ng = g1 - g0;
    const int base = ng / size, extra = ng % size;
    const int lo = g0 + rank * base + (rank < extra ? rank : extra);
    const int hi = lo + base + (rank < extra ? 1 : 0);
    int x = lo * group, y = hi * group;
    if (x < r0) x = r0;
    if (y > r1) y = r1;
    if (y < x) y = x;
    *a = x;
    *b = y;
}

double aha_dist_loss_scale(aha_loss_kind_t kind, int n_seq_local, int n_tok_local, int n_seq,
                           int n_tok) {
    if (n_seq_local <= 0 || n_tok_local <= 0 || n_seq <= 0 || n_tok <= 0) return 0;
    if (kind == AHA_LOSS_DAPO) return (double)n_tok_local / n_tok;
    return (double)n_seq_local / n_seq;
}

void aha_dist_batch_buf_free(aha_dist_batch_buf_t *s) {
    if (!s) return;
    free(s->mem);
    s->mem = NULL;
    s->cap = 0;
}

enum { HDR_WORDS = 4, MAX_EXTRA = 12 };

/* Byte offsets of the arrays of a batch of N rows of LEN (ID_CELLS routing ids) in one buffer. */
typedef struct {
    size_t tokens, prompt_len, total_len, behav_logp, expert_ids, adv, bytes;
} batch_layout_t;

static batch_layout_t batch_layout(size_t n, size_t len, size_t id_cells) {
    batch_layout_t l;
    size_t at = 0;
#define TAKE(field, count, type)                                                                   \
    l.field = at;                                                                                  \
    at += ((count) * sizeof(type) + 15) & ~(size_t)15;
    TAKE(tokens, n * len, int);
    TAKE(prompt_len, n, int);
    TAKE(total_len, n, int);
    TAKE(behav_logp, n * len, float);
    TAKE(expert_ids, id_cells, int);
    TAKE(adv, n, float);
#undef TAKE
    l.bytes = at;
    return l;
}

int aha_dist_bcast_batch(const aha_dist_t *d, aha_rl_batch_t *b, int n_layers, int top_k,
                         uint64_t *extra, int n_extra, aha_dist_batch_buf_t *s) {
    if (!d || !b || !s || n_extra < 0 || n_extra > MAX_EXTRA || (n_extra && !extra))
        return AHA_FAIL(AHA_ERR_ARG, "aha_dist_bcast_batch: bad argument");
    if (!aha_dist_active(d)) return AHA_OK;
    const int root = d->rank == 0;
    uint64_t hdr[HDR_WORDS + MAX_EXTRA] = {0};
    if (root) {
        hdr[0] = (uint64_t)(b->n_seq > 0 ? b->n_seq : 0);
        hdr[1] = (uint64_t)(b->max_len > 0 ? b->max_len : 0);
        hdr[2] = b->expert_ids != NULL;
        for (int i = 0; i < n_extra; i++)
            hdr[HDR_WORDS + i] = extra[i];
    }
    /* the other ranks wait here while rank 0 samples, scores and evaluates: poll with short
     * sleeps instead of Open MPI's busy wait, which would take a core from rank 0's work */
    const double t0 = aha_now_ms();
    MPI_Request req;
    int e = MPI_Ibcast(hdr, (int)sizeof hdr, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Ibcast");
    AHA_TRY(wait_idle(&req));
    add_comm(d, t0);
    for (int i = 0; i < n_extra; i++)
        extra[i] = hdr[HDR_WORDS + i];
    const size_t n = hdr[0], len = hdr[1];
    const size_t id_cells = hdr[2] ? (size_t)n_layers * n * len * (top_k > 0 ? top_k : 0) : 0;
    const batch_layout_t l = batch_layout(n, len, id_cells);
    if (n == 0) {
        if (!root) memset(b, 0, sizeof *b);
        return AHA_OK;
    }
    if (s->cap < l.bytes) {
        void *p = realloc(s->mem, l.bytes);
        if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "batch of %zu bytes", l.bytes);
        s->mem = p;
        s->cap = l.bytes;
    }
    char *m = s->mem;
    if (root) {
        memcpy(m + l.tokens, b->tokens, n * len * sizeof(int));
        memcpy(m + l.prompt_len, b->prompt_len, n * sizeof(int));
        memcpy(m + l.total_len, b->total_len, n * sizeof(int));
        memcpy(m + l.behav_logp, b->behav_logp, n * len * sizeof(float));
        if (id_cells) memcpy(m + l.expert_ids, b->expert_ids, id_cells * sizeof(int));
        memcpy(m + l.adv, b->adv, n * sizeof(float));
    }
    AHA_TRY(aha_dist_bcast(d, m, l.bytes, 0));
    if (!root) {
        b->n_seq = (int)n;
        b->max_len = (int)len;
        b->tokens = (const int *)(m + l.tokens);
        b->prompt_len = (const int *)(m + l.prompt_len);
        b->total_len = (const int *)(m + l.total_len);
        b->behav_logp = (const float *)(m + l.behav_logp);
        b->expert_ids = id_cells ? (const int *)(m + l.expert_ids) : NULL;
        b->adv = (const float *)(m + l.adv);
    }
    return AHA_OK;
}

/* ---- expert parallel ---- */

#include "model/kernels.h"

/* What one MoE layer's forward exchanged, kept for its backward. Slots are sent grouped by the
 * rank owning their expert; received rows are computed here with the layer's experts. */
typedef struct {
    int n_send, n_recv;
    size_t cap_send, cap_recv;
    int *sidx;                  /* [n_send] local slot (r*K + k) of each sent row */
    int *sid;                   /* [n_send] its expert */
    int *er, *perm, *off;       /* [n_recv] received experts, grouping [n_recv], [E+1] */
    float *xr, *eo, *ones;      /* [n_recv, D] received inputs, expert outputs (grouped); [n_recv] */
    float *h1, *h3, *act;       /* [n_recv, H] kept for the backward (grouped) */
    int *scount, *sdispl, *rcount, *rdispl; /* [P] rows */
} ep_layer_t;

struct aha_dist_ep {
    const aha_dist_t *d;
    int L, E, D, H;
    int *owner;        /* [E] rank owning each expert */
    ep_layer_t *layer; /* [L] */
    /* scratch (grown): rows to send / received, float counts for MPI, backward scratch */
    float *sbuf, *rbuf, *xg, *dyg, *dxg, *dxr, *dh1, *dh3, *dact, *dgr;
    size_t cap_s, cap_r;
    int *fc_s, *fd_s, *fc_r, *fd_r; /* [P] float counts and displacements */
    double bytes;                   /* rows sent to other ranks, in bytes (all exchanges) */
};

void aha_dist_ep_experts(const aha_dist_t *d, int E, int rank, int *lo, int *hi) {
    const int P = aha_dist_size(d);
    *lo = (int)((long)E * rank / P);
    *hi = (int)((long)E * (rank + 1) / P);
}

void aha_dist_ep_destroy(aha_dist_ep_t **pp) {
    if (!pp || !*pp) return;
    aha_dist_ep_t *p = *pp;
    for (int l = 0; p->layer && l < p->L; l++) {
        ep_layer_t *y = &p->layer[l];
        AHA_FREE(y->sidx, y->sid, y->er, y->perm, y->off, y->xr, y->eo, y->ones, y->h1, y->h3,
                 y->act, y->scount, y->sdispl, y->rcount, y->rdispl);
    }
    AHA_FREE(p->layer, p->owner, p->sbuf, p->rbuf, p->xg, p->dyg, p->dxg, p->dxr, p->dh1, p->dh3,
             p->dact, p->dgr, p->fc_s, p->fd_s, p->fc_r, p->fd_r, p);
    *pp = NULL;
}

int aha_dist_ep_new(const aha_dist_t *d, const aha_model_config_t *c, aha_dist_ep_t **out) {
    if (!d || !c || !out) return AHA_FAIL(AHA_ERR_ARG, "aha_dist_ep_new: NULL argument");
    if (c->n_routed_experts < aha_dist_size(d))
        return AHA_FAIL(AHA_ERR_CONFIG,
                        "learner.expert_parallel: %d routed experts cannot be split over %d ranks",
                        c->n_routed_experts, aha_dist_size(d));
    aha_dist_ep_t *p = calloc(1, sizeof *p);
    if (!p) return AHA_FAIL(AHA_ERR_NOMEM, "expert parallel");
    const int P = aha_dist_size(d);
    p->d = d, p->L = c->n_layers, p->E = c->n_routed_experts, p->D = c->dim, p->H = c->moe_hidden;
    p->owner = calloc((size_t)p->E, sizeof(int));
    p->layer = calloc((size_t)p->L, sizeof *p->layer);
    p->fc_s = calloc(P, sizeof(int)), p->fd_s = calloc(P, sizeof(int));
    p->fc_r = calloc(P, sizeof(int)), p->fd_r = calloc(P, sizeof(int));
    int ok = p->owner && p->layer && p->fc_s && p->fd_s && p->fc_r && p->fd_r;
    for (int l = 0; ok && l < p->L; l++) {
        ep_layer_t *y = &p->layer[l];
        y->scount = calloc(P, sizeof(int)), y->sdispl = calloc(P, sizeof(int));
        y->rcount = calloc(P, sizeof(int)), y->rdispl = calloc(P, sizeof(int));
        y->off = calloc((size_t)p->E + 1, sizeof(int));
        ok = y->scount && y->sdispl && y->rcount && y->rdispl && y->off;
    }
    if (!ok) {
        aha_dist_ep_destroy(&p);
        return AHA_FAIL(AHA_ERR_NOMEM, "expert parallel");
    }
    for (int r = 0; r < P; r++) {
        int lo, hi;
        aha_dist_ep_experts(d, p->E, r, &lo, &hi);
        for (int e = lo; e < hi; e++)
            p->owner[e] = r;
    }
    *out = p;
    return AHA_OK;
}

double aha_dist_ep_bytes(const aha_dist_ep_t *p) {
    return p ? p->bytes : 0;
}

/* Grows *P to at least N elements of SIZE bytes (contents not kept). */
static int grow(void **p, size_t n, size_t size) {
    void *q = realloc(*p, (n ? n : 1) * size);
    if (!q) return AHA_FAIL(AHA_ERR_NOMEM, "expert parallel: %zu elements", n);
    *p = q;
    return AHA_OK;
}

static int ep_reserve(aha_dist_ep_t *p, ep_layer_t *y, int n_send, int n_recv) {
    const size_t D = (size_t)p->D, H = (size_t)p->H, ns = (size_t)n_send, nr = (size_t)n_recv;
    if (ns > y->cap_send) {
        AHA_TRY(grow((void **)&y->sidx, ns, sizeof(int)));
        AHA_TRY(grow((void **)&y->sid, ns, sizeof(int)));
        y->cap_send = ns;
    }
    if (nr > y->cap_recv) {
        AHA_TRY(grow((void **)&y->er, nr, sizeof(int)));
        AHA_TRY(grow((void **)&y->perm, nr, sizeof(int)));
        AHA_TRY(grow((void **)&y->xr, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&y->eo, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&y->ones, nr, sizeof(float)));
        AHA_TRY(grow((void **)&y->h1, nr * H, sizeof(float)));
        AHA_TRY(grow((void **)&y->h3, nr * H, sizeof(float)));
        AHA_TRY(grow((void **)&y->act, nr * H, sizeof(float)));
        y->cap_recv = nr;
    }
    if (ns > p->cap_s) {
        AHA_TRY(grow((void **)&p->sbuf, ns * D, sizeof(float)));
        p->cap_s = ns;
    }
    if (nr > p->cap_r) {
        AHA_TRY(grow((void **)&p->rbuf, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&p->xg, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&p->dyg, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&p->dxg, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&p->dxr, nr * D, sizeof(float)));
        AHA_TRY(grow((void **)&p->dh1, nr * H, sizeof(float)));
        AHA_TRY(grow((void **)&p->dh3, nr * H, sizeof(float)));
        AHA_TRY(grow((void **)&p->dact, nr * H, sizeof(float)));
        AHA_TRY(grow((void **)&p->dgr, nr, sizeof(float)));
        p->cap_r = nr;
    }
    return AHA_OK;
}

/* Rows of D floats: SRC laid out by COUNT/DISPL (rows per rank) to DST by the other pair. */
static int ep_rows(aha_dist_ep_t *p, const float *src, const int *sc, const int *sd, float *dst,
                   const int *rc, const int *rd) {
    const int P = aha_dist_size(p->d), D = p->D;
    double remote = 0;
    for (int r = 0; r < P; r++) {
        p->fc_s[r] = sc[r] * D, p->fd_s[r] = sd[r] * D;
        p->fc_r[r] = rc[r] * D, p->fd_r[r] = rd[r] * D;
        if (r != aha_dist_rank(p->d)) remote += (double)sc[r] * D * sizeof(float);
    }
    const double t0 = aha_now_ms();
    int e = MPI_Alltoallv(src, p->fc_s, p->fd_s, MPI_FLOAT, dst, p->fc_r, p->fd_r, MPI_FLOAT,
                          MPI_COMM_WORLD);
    add_comm(p->d, t0);
    p->bytes += remote;
    return e == MPI_SUCCESS ? AHA_OK : mpi_fail(e, "MPI_Alltoallv (expert rows)");
}

static int ep_forward(aha_dist_ep_t *p, const aha_expert_call_t *c) {
    ep_layer_t *y = &p->layer[c->layer];
    const int P = aha_dist_size(p->d), D = p->D, K = c->K, NK = c->N * c->K;
    /* this rank's routed slots, grouped by the rank owning their expert */
    memset(y->scount, 0, sizeof(int) * P);
    for (int s = 0; s < NK; s++)
        if (c->ids[s] >= 0) y->scount[p->owner[c->ids[s]]]++;
    int n_send = 0;
    for (int r = 0; r < P; r++)
        y->sdispl[r] = n_send, n_send += y->scount[r];
    const double t0 = aha_now_ms();
    int e = MPI_Alltoall(y->scount, 1, MPI_INT, y->rcount, 1, MPI_INT, MPI_COMM_WORLD);
    add_comm(p->d, t0);
    if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Alltoall (expert counts)");
    int n_recv = 0;
    for (int r = 0; r < P; r++)
        y->rdispl[r] = n_recv, n_recv += y->rcount[r];
    AHA_TRY(ep_reserve(p, y, n_send, n_recv));
    y->n_send = n_send, y->n_recv = n_recv;
    int *at = p->fc_s; /* fill position per rank (reused below as float counts) */
    memcpy(at, y->sdispl, sizeof(int) * P);
    for (int s = 0; s < NK; s++) {
        if (c->ids[s] < 0) continue;
        const int j = at[p->owner[c->ids[s]]]++;
        y->sidx[j] = s;
        y->sid[j] = c->ids[s];
        memcpy(p->sbuf + (size_t)j * D, c->x + (size_t)(s / K) * D, sizeof(float) * D);
    }
    const double t1 = aha_now_ms();
    e = MPI_Alltoallv(y->sid, y->scount, y->sdispl, MPI_INT, y->er, y->rcount, y->rdispl, MPI_INT,
                      MPI_COMM_WORLD);
    add_comm(p->d, t1);
    if (e != MPI_SUCCESS) return mpi_fail(e, "MPI_Alltoallv (expert ids)");
    AHA_TRY(ep_rows(p, p->sbuf, y->scount, y->sdispl, y->xr, y->rcount, y->rdispl));
    /* the received rows through this rank's experts (one row per slot, gate 1) */
    for (int i = 0; i < n_recv; i++)
        y->ones[i] = 1.0f;
    k_group(y->off, y->perm, y->er, n_recv, p->E, 1);
    if (n_recv) memset(p->rbuf, 0, sizeof(float) * (size_t)n_recv * D);
    const k_experts_routing_t route = {y->ones, y->off, y->perm, y->eo, p->E, 1};
    k_experts(p->rbuf, p->xg, y->eo, (k_ffn_keep_t){y->h1, y->h3, y->act}, y->xr, &route,
              (k_ffn_weights_t){c->w1, c->w3, c->w2}, D, p->H);
    /* and back: each slot's expert output, gated into y */
    AHA_TRY(ep_rows(p, p->rbuf, y->rcount, y->rdispl, p->sbuf, y->scount, y->sdispl));
    if (NK) memset(c->eo, 0, sizeof(float) * (size_t)NK * D);
    for (int j = 0; j < n_send; j++) {
        const int s = y->sidx[j];
        const float *src = p->sbuf + (size_t)j * D, g = c->gates[s];
        float *yr = c->y + (size_t)(s / K) * D;
        memcpy(c->eo + (size_t)s * D, src, sizeof(float) * D);
        for (int k = 0; k < D; k++)
            yr[k] += g * src[k];
    }
    return AHA_OK;
}

static int ep_backward(aha_dist_ep_t *p, const aha_expert_call_t *c) {
    ep_layer_t *y = &p->layer[c->layer];
    const int D = p->D, K = c->K;
    /* d gate = dy . eo here; the gated dy of each slot goes to its expert's rank */
    for (int j = 0; j < y->n_send; j++) {
        const int s = y->sidx[j];
        const float *dyr = c->dy + (size_t)(s / K) * D, *er = c->eo + (size_t)s * D;
        float *dst = p->sbuf + (size_t)j * D, g = c->gates[s], dot = 0.0f;
        for (int k = 0; k < D; k++) {
            dot += dyr[k] * er[k];
            dst[k] = g * dyr[k];
        }
        c->dgates[s] = dot;
    }
    AHA_TRY(ep_rows(p, p->sbuf, y->scount, y->sdispl, p->rbuf, y->rcount, y->rdispl));
    const size_t nr = (size_t)y->n_recv;
    if (nr) memset(p->dxr, 0, sizeof(float) * nr * D);
    const k_experts_routing_t route = {y->ones, y->off, y->perm, y->eo, p->E, 1};
    const k_experts_scratch_t sc = {p->xg, p->dyg, p->dxg,
                                    (k_ffn_scratch_t){p->dh1, p->dh3, p->dact}};
    k_experts_backward(p->dxr, p->dgr, (k_ffn_grads_t){c->g1, c->g3, c->g2}, sc, p->rbuf, y->xr,
                       &route, (k_ffn_acts_t){y->h1, y->h3, y->act},
                       (k_ffn_weights_t){c->w1, c->w3, c->w2}, D, p->H);
    /* the input gradient of each slot back to the rank it came from */
    AHA_TRY(ep_rows(p, p->dxr, y->rcount, y->rdispl, p->sbuf, y->scount, y->sdispl));
    for (int j = 0; j < y->n_send; j++) {
        const float *src = p->sbuf + (size_t)j * D;
        float *dxr = c->dx + (size_t)(y->sidx[j] / K) * D;
        for (int k = 0; k < D; k++)
            dxr[k] += src[k];
    }
    return AHA_OK;
}

int aha_dist_ep_call(void *ctx, int backward, const aha_expert_call_t *c) {
    aha_dist_ep_t *p = ctx;
    if (!p || !c || c->layer < 0 || c->layer >= p->L || c->D != p->D || c->H != p->H ||
        c->E != p->E)
        return AHA_FAIL(AHA_ERR_ARG, "expert parallel: call does not fit the model");
    return backward ? ep_backward(p, c) : ep_forward(p, c);
}

int aha_dist_ep_idle(aha_dist_ep_t *p, aha_model_t *m, int backward) {
    const aha_model_config_t *mc = &m->cfg;
    for (int i = 0; i < mc->n_layers; i++) {
        const int l = backward ? mc->n_layers - 1 - i : i;
        if (!aha_model_layer_is_moe(mc, l)) continue;
        const aha_layer_view_t *w = &m->p.layers[l];
        aha_expert_call_t c = {.layer = l, .D = mc->dim, .H = mc->moe_hidden,
                               .E = mc->n_routed_experts, .K = mc->top_k, .w1 = w->ex_w1,
                               .w3 = w->ex_w3, .w2 = w->ex_w2};
        if (backward) {
            if (!m->grads) return AHA_FAIL(AHA_ERR_STATE, "expert parallel: no gradients");
            const aha_layer_view_t *g = &m->g.layers[l];
            c.g1 = g->ex_w1, c.g3 = g->ex_w3, c.g2 = g->ex_w2;
        }
        AHA_TRY(aha_dist_ep_call(p, backward, &c));
    }
    return AHA_OK;
}
