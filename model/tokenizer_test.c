/* tokenizer: round trips, special tokens, capacity and bad-input errors. */
#include "core/err.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include <string.h>

static void roundtrip(const char *text) {
    int ids[512], n = -1;
    char back[1024];
    CHECK(aha_tok_encode(text, ids, 512, &n) == 0, "encode '%s': %s", text, aha_last_error());
    CHECK(aha_tok_decode(ids, n, back, sizeof back) == 0, "decode");
    CHECK(!strcmp(text, back), "round trip '%s' -> '%s'", text, back);
    for (int i = 0; i < n; i++) CHECK(ids[i] >= 0 && ids[i] < AHA_TOK_VOCAB, "id range");
}

int main(void) {
    CHECK(AHA_TOK_VOCAB == 105, "vocabulary size %d", AHA_TOK_VOCAB);
    roundtrip("");
    roundtrip("<bos><|User|>57+68<|Assistant|><think>7+8=15;5+6+1=12;</think><answer>125</answer><eos>");
    roundtrip("Hello, World! ~{}|\\\"'` line\nnext");
    roundtrip("<thin<think></thinkx<answer<answer></answer>>");
    int ids[64], n = 0;
    CHECK(aha_tok_encode("<think>1</think>", ids, 64, &n) == 0 && n == 3, "specials are one token (%d)", n);
    CHECK(ids[0] == AHA_TOK_THINK && ids[2] == AHA_TOK_THINK_END, "special ids");
    CHECK(ids[1] == AHA_TOK_FIRST_CHAR + ('1' - 32), "digit id");
    CHECK(aha_tok_encode("<thin", ids, 64, &n) == 0 && n == 5, "partial special spelling is plain text");
    /* every printable byte */
    for (int c = 32; c < 127; c++) {
        char s[2] = {(char)c, 0};
        CHECK(aha_tok_encode(s, ids, 64, &n) == 0 && n == 1 && ids[0] == AHA_TOK_FIRST_CHAR + c - 32, "byte %d", c);
        CHECK(!strcmp(aha_tok_piece(ids[0]), s), "piece of %d", c);
    }
    /* errors */
    int before = 77;
    n = before;
    CHECK(aha_tok_encode("abcdef", ids, 3, &n) == AHA_ERR_RANGE && n == before, "capacity error leaves n_out");
    CHECK(strstr(aha_last_error(), "3") != NULL, "capacity message: %s", aha_last_error());
    CHECK(aha_tok_encode("caf\xc3\xa9", ids, 64, &n) == AHA_ERR_FORMAT, "non-ASCII rejected");
    CHECK(strstr(aha_last_error(), "offset 3") != NULL, "message names the offset: %s", aha_last_error());
    CHECK(aha_tok_encode("a\tb", ids, 64, &n) == AHA_ERR_FORMAT, "tab rejected");
    char out[8];
    int bad[2] = {AHA_TOK_FIRST_CHAR, AHA_TOK_VOCAB};
    CHECK(aha_tok_decode(bad, 2, out, sizeof out) == AHA_ERR_ARG, "out-of-range id");
    int neg[1] = {-1};
    CHECK(aha_tok_decode(neg, 1, out, sizeof out) == AHA_ERR_ARG, "negative id");
    int think[2] = {AHA_TOK_THINK, AHA_TOK_THINK};
    CHECK(aha_tok_decode(think, 2, out, sizeof out) == AHA_ERR_RANGE, "decode capacity (14 bytes into 8)");
    CHECK(aha_tok_decode(think, 1, out, sizeof out) == 0 && !strcmp(out, "<think>"), "exact fit");
    int pads[3] = {AHA_TOK_PAD, AHA_TOK_FIRST_CHAR + 1, AHA_TOK_PAD};
    CHECK(aha_tok_decode(pads, 3, out, sizeof out) == 0 && !strcmp(out, "!"), "pad skipped");
    CHECK(aha_tok_piece(AHA_TOK_VOCAB) == NULL && aha_tok_piece(-1) == NULL, "piece range");
    return TEST_DONE();
}
