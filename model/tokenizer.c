#include "model/tokenizer.h"
#include "core/err.h"
#include <string.h>

static const char *const k_special[AHA_TOK_FIRST_CHAR] = {
    "<pad>", "<bos>", "<eos>", "<think>", "</think>", "<answer>", "</answer>", "<|User|>",
    "<|Assistant|>", "\n"};

/* One-character strings for the printable range, filled before main(). */
static char k_chars[95][2];

__attribute__((constructor)) static void init_chars(void) {
    for (int i = 0; i < 95; i++) k_chars[i][0] = (char)(32 + i);
}

const char *aha_tok_piece(int id) {
    if (id < 0 || id >= AHA_TOK_VOCAB) return NULL;
    if (id < AHA_TOK_FIRST_CHAR) return k_special[id];
    return k_chars[id - AHA_TOK_FIRST_CHAR];
}

int aha_tok_encode(const char *text, int *ids, int cap, int *n_out) {
    int n = 0;
    for (size_t i = 0; text[i];) {
        int id = -1;
        size_t len = 1;
        if (text[i] == '<') {
            for (int s = AHA_TOK_PAD; s < AHA_TOK_NEWLINE; s++) {
                size_t sl = strlen(k_special[s]);
                if (!strncmp(text + i, k_special[s], sl)) {
                    id = s;
                    len = sl;
                    break;
                }
            }
        }
        if (id < 0) {
            unsigned char c = (unsigned char)text[i];
            if (c == '\n') id = AHA_TOK_NEWLINE;
            else if (c >= 32 && c <= 126) id = AHA_TOK_FIRST_CHAR + (c - 32);
            else return AHA_FAIL(AHA_ERR_FORMAT, "tokenizer: byte 0x%02x at offset %zu is not in the vocabulary", c, i);
        }
        if (n >= cap) return AHA_FAIL(AHA_ERR_RANGE, "tokenizer: more than %d tokens", cap);
        ids[n++] = id;
        i += len;
    }
    *n_out = n;
    return AHA_OK;
}

int aha_tok_decode(const int *ids, int n, char *out, size_t cap) {
    size_t pos = 0;
    if (cap == 0) return AHA_FAIL(AHA_ERR_RANGE, "tokenizer: empty output buffer");
    for (int i = 0; i < n; i++) {
        if (ids[i] == AHA_TOK_PAD) continue;
        const char *p = aha_tok_piece(ids[i]);
        if (!p) return AHA_FAIL(AHA_ERR_ARG, "tokenizer: id %d outside the vocabulary", ids[i]);
        size_t l = strlen(p);
        if (pos + l + 1 > cap) return AHA_FAIL(AHA_ERR_RANGE, "tokenizer: decoded text exceeds %zu bytes", cap);
        memcpy(out + pos, p, l);
        pos += l;
    }
    out[pos] = 0;
    return AHA_OK;
}
