/* model/tokenizer.c — fixed 105-token character vocabulary (see tokenizer.h).
 *
 * Encoding is greedy left to right: at a '<' the special spellings are tried (none is a prefix of
 * another, so the first match is the only one); anything else is one byte = one token. Both
 * directions validate and size the whole input before writing, so on error no out-param changes. */
#include "model/tokenizer.h"
#include "core/err.h"
#include <string.h>

static const char *const k_special[AHA_TOK_FIRST_CHAR] = {
    "<pad>",    "<bos>",     "<eos>",    "<think>",       "</think>",
    "<answer>", "</answer>", "<|User|>", "<|Assistant|>", "\n"};

/* Printable ASCII 32..126 as NUL-terminated one-character strings. */
static const char k_chars[][2] = {
    {' '},  {'!'}, {'"'}, {'#'}, {'$'}, {'%'}, {'&'}, {'\''}, {'('}, {')'}, {'*'}, {'+'},
    {','},  {'-'}, {'.'}, {'/'}, {'0'}, {'1'}, {'2'}, {'3'},  {'4'}, {'5'}, {'6'}, {'7'},
    {'8'},  {'9'}, {':'}, {';'}, {'<'}, {'='}, {'>'}, {'?'},  {'@'}, {'A'}, {'B'}, {'C'},
    {'D'},  {'E'}, {'F'}, {'G'}, {'H'}, {'I'}, {'J'}, {'K'},  {'L'}, {'M'}, {'N'}, {'O'},
    {'P'},  {'Q'}, {'R'}, {'S'}, {'T'}, {'U'}, {'V'}, {'W'},  {'X'}, {'Y'}, {'Z'}, {'['},
    {'\\'}, {']'}, {'^'}, {'_'}, {'`'}, {'a'}, {'b'}, {'c'},  {'d'}, {'e'}, {'f'}, {'g'},
    {'h'},  {'i'}, {'j'}, {'k'}, {'l'}, {'m'}, {'n'}, {'o'},  {'p'}, {'q'}, {'r'}, {'s'},
    {'t'},  {'u'}, {'v'}, {'w'}, {'x'}, {'y'}, {'z'}, {'{'},  {'|'}, {'}'}, {'~'}};

_Static_assert(sizeof k_chars / sizeof k_chars[0] == AHA_TOK_VOCAB - AHA_TOK_FIRST_CHAR,
               "one entry per printable ASCII byte");

/* Returns the spelling of id, or NULL when id is outside the vocabulary. */
const char *aha_tok_piece(int id) {
    if (id < 0 || id >= AHA_TOK_VOCAB) return NULL;
    if (id < AHA_TOK_FIRST_CHAR) return k_special[id];
    return k_chars[id - AHA_TOK_FIRST_CHAR];
}

/* Token at text[*i]: sets *id and advances *i past it; AHA_ERR_FORMAT for a byte outside the
 * vocabulary. */
static int next_token(const char *text, size_t *i, int *id) {
    const char *s = text + *i;
    if (*s == '<') {
        for (int t = AHA_TOK_PAD; t < AHA_TOK_NEWLINE; t++) {
            size_t len = strlen(k_special[t]);
            if (!strncmp(s, k_special[t], len)) {
                *id = t;
                *i += len;
                return AHA_OK;
            }
        }
    }
    unsigned char c = (unsigned char)*s;
    if (c == '\n')
        *id = AHA_TOK_NEWLINE;
    else if (c >= 32 && c <= 126)
        *id = AHA_TOK_FIRST_CHAR + (c - 32);
    else
        return AHA_FAIL(AHA_ERR_FORMAT,
                        "tokenizer: byte 0x%02x at offset %zu is not in the vocabulary", c, *i);
    *i += 1;
    return AHA_OK;
}

/* Encodes TEXT into ids[0..*n_out). AHA_ERR_ARG for NULL text/n_out, a negative cap, or NULL ids
 * with cap > 0; AHA_ERR_FORMAT (naming the byte offset) for a byte outside the vocabulary;
 * AHA_ERR_RANGE if more than CAP ids are needed. On error neither ids nor *n_out is written. */
int aha_tok_encode(const char *text, int *ids, int cap, int *n_out) {
    if (!text || !n_out || cap < 0 || (!ids && cap > 0))
        return AHA_FAIL(AHA_ERR_ARG, "tokenizer: encode needs text, n_out and ids for cap %d", cap);
    size_t n = 0;
    for (size_t i = 0; text[i];) {
        int id;
        AHA_TRY(next_token(text, &i, &id));
        n++;
    }
    if (n > (size_t)cap)
        return AHA_FAIL(AHA_ERR_RANGE, "tokenizer: text needs %zu tokens, capacity is %d", n, cap);
    n = 0;
    for (size_t i = 0; text[i];) {
        int id = 0;
        (void)next_token(text, &i, &id); /* validated above */
        ids[n++] = id;
    }
    *n_out = (int)n;
    return AHA_OK;
}

/* Decodes ids[0..n) into OUT (NUL-terminated; special tokens spelled out, <pad> skipped).
 * AHA_ERR_ARG for NULL pointers, n < 0 or an id outside the vocabulary; AHA_ERR_RANGE if the text
 * plus its NUL does not fit in CAP bytes. On error OUT is not written. */
int aha_tok_decode(const int *ids, int n, char *out, size_t cap) {
    if (n < 0 || (!ids && n > 0) || !out)
        return AHA_FAIL(AHA_ERR_ARG, "tokenizer: decode needs ids (n = %d) and an output buffer",
                        n);
    size_t need = 1;
    for (int i = 0; i < n; i++) {
        const char *p = aha_tok_piece(ids[i]);
        if (!p)
            return AHA_FAIL(AHA_ERR_ARG,
                            "tokenizer: id %d at position %d is outside the vocabulary", ids[i], i);
        if (ids[i] != AHA_TOK_PAD) need += strlen(p);
    }
    if (need > cap)
        return AHA_FAIL(AHA_ERR_RANGE, "tokenizer: decoded text needs %zu bytes, capacity is %zu",
                        need, cap);
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] == AHA_TOK_PAD) continue;
        const char *p = aha_tok_piece(ids[i]);
        size_t l = strlen(p);
        memcpy(out + pos, p, l);
        pos += l;
    }
    out[pos] = 0;
    return AHA_OK;
}
