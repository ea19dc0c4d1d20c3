/* tokenizer: round trips (fixed and random strings, special tokens next to text), partial special
 * spellings, capacity and bad-input errors with untouched out-params, exact-size buffers (ASan). */
#include "core/err.h"
#include "core/rng.h"
#include "core/testutil.h"
#include "model/tokenizer.h"
#include <stdlib.h>
#include <string.h>

static const char *const k_specials[] = {"<bos>",    "<eos>",         "<think>",
                                         "</think>", "<answer>",      "</answer>",
                                         "<|User|>", "<|Assistant|>", "\n"};
#define N_SPECIALS (int)(sizeof k_specials / sizeof k_specials[0])

/* text -> ids -> text is the identity, and ids -> text -> ids too (for texts without "<pad>"). */
static void roundtrip(const char *text) {
    int ids[1024], ids2[1024], n = -1, n2 = -1;
    char back[2048];
    CHECK(aha_tok_encode(text, ids, 1024, &n) == 0, "encode '%s': %s", text, aha_last_error());
    if (n < 0) return;
    for (int i = 0; i < n; i++)
        CHECK(ids[i] >= 0 && ids[i] < AHA_TOK_VOCAB, "id %d out of range", ids[i]);
    CHECK(aha_tok_decode(ids, n, back, sizeof back) == 0, "decode: %s", aha_last_error());
    CHECK(!strcmp(text, back), "round trip '%s' -> '%s'", text, back);
    CHECK(aha_tok_encode(back, ids2, 1024, &n2) == 0 && n2 == n &&
              !memcmp(ids, ids2, sizeof(int) * (size_t)n),
          "ids -> text -> ids for '%s'", text);
}

/* Number of tokens of TEXT (-1 on error). */
static int count(const char *text) {
    int ids[1024], n = -1;
    if (aha_tok_encode(text, ids, 1024, &n) != 0) return -1;
    return n;
}

static void test_round_trips(void) {
    CHECK(AHA_TOK_VOCAB == 105, "vocabulary size %d", AHA_TOK_VOCAB);

    /* fixed strings */
    const char *fixed[] = {
        "",
        "<bos><|User|>57+68<|Assistant|><think>7+8=15;5+6+1=12;</think><answer>125</answer><eos>",
        "Hello, World! ~{}|\\\"'` line\nnext\n\n",
        "<thin<think></thinkx<answer<answer></answer>>",
        "<<think>>",
        "<",
        ">",
        "<<<",
        "<|User|",
        "<|Assistant",
        "|User|>",
        "</",
        "<eos",
        "eos>",
        "a<bos>b<eos>c<think>d</think>e<answer>f</answer>g<|User|>h<|Assistant|>i\nj",
        "<bos><bos><eos><eos>",
        "1+1=2",
        "   ",
        "<pad",
        "<PAD>",
        "<Think>",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        roundtrip(fixed[i]);

    /* every special spelling adjacent to text on either side, and to every other special */
    for (int s = 0; s < N_SPECIALS; s++) {
        char buf[64];
        const char *sides[] = {"x", "<", ">", "9", "<a", "b>", ""};
        for (size_t l = 0; l < sizeof sides / sizeof *sides; l++)
            for (size_t r = 0; r < sizeof sides / sizeof *sides; r++) {
                snprintf(buf, sizeof buf, "%s%s%s", sides[l], k_specials[s], sides[r]);
                roundtrip(buf);
            }
        for (int t = 0; t < N_SPECIALS; t++) {
            snprintf(buf, sizeof buf, "%s%s", k_specials[s], k_specials[t]);
            roundtrip(buf);
            CHECK(count(buf) == 2, "two specials '%s' are two tokens (%d)", buf, count(buf));
        }
    }

    /* random strings from pieces: specials, their prefixes (partial spellings), printable bytes */
    aha_rng_t rng;
    aha_rng_seed(&rng, 42);
    for (int iter = 0; iter < 3000; iter++) {
        char buf[512];
        size_t len = 0;
        int parts = (int)aha_rng_below(&rng, 30);
        for (int k = 0; k < parts; k++) {
            const char *sp = k_specials[aha_rng_below(&rng, N_SPECIALS)];
            size_t take;
            switch (aha_rng_below(&rng, 3)) {
            case 0:
                take = strlen(sp);
                break; /* whole special */
            case 1:
                take = 1 + aha_rng_below(&rng, strlen(sp));
                break; /* a prefix (maybe whole) */
            default:
                take = 0;
                break;
            }
            if (take) {
                memcpy(buf + len, sp, take);
                len += take;
            } else {
                buf[len++] = (char)(32 + aha_rng_below(&rng, 95));
            }
        }
        buf[len] = 0;
        roundtrip(buf);
    }
}

static void test_encode_decode(void) {
    /* partial spellings without '>' are plain characters */
    int ids[64], n = 0;
    CHECK(aha_tok_encode("<think>1</think>", ids, 64, &n) == 0 && n == 3,
          "specials are one token (%d)", n);
    CHECK(ids[0] == AHA_TOK_THINK && ids[1] == AHA_TOK_FIRST_CHAR + ('1' - 32) &&
              ids[2] == AHA_TOK_THINK_END,
          "special ids");
    CHECK(count("<thin") == 5, "'<thin' is 5 characters");
    CHECK(count("<answer") == 7, "'<answer' is 7 characters");
    CHECK(count("<answer 5") == 9, "'<answer 5' is 9 characters");
    CHECK(count("</answer") == 8 && count("<|Assistant|") == 12, "partial closing spellings");
    CHECK(count("<thinkk>") == 8, "misspelt special is characters");
    CHECK(aha_tok_encode("<<answer>>", ids, 64, &n) == 0 && n == 3 &&
              ids[0] == AHA_TOK_FIRST_CHAR + ('<' - 32) && ids[1] == AHA_TOK_ANSWER &&
              ids[2] == AHA_TOK_FIRST_CHAR + ('>' - 32),
          "special inside angle brackets");
    CHECK(aha_tok_encode("a\nb", ids, 64, &n) == 0 && n == 3 && ids[1] == AHA_TOK_NEWLINE,
          "newline id");

    /* every printable byte and every special id has a piece that encodes back to it */
    for (int c = 32; c < 127; c++) {
        char s[2] = {(char)c, 0};
        CHECK(aha_tok_encode(s, ids, 64, &n) == 0 && n == 1 &&
                  ids[0] == AHA_TOK_FIRST_CHAR + c - 32,
              "byte %d", c);
        CHECK(!strcmp(aha_tok_piece(AHA_TOK_FIRST_CHAR + c - 32), s), "piece of %d", c);
    }
    for (int id = 0; id < AHA_TOK_FIRST_CHAR; id++) {
        CHECK(aha_tok_encode(aha_tok_piece(id), ids, 64, &n) == 0 && n == 1 && ids[0] == id,
              "special %d", id);
    }
    CHECK(!strcmp(aha_tok_piece(AHA_TOK_ASSISTANT), "<|Assistant|>") &&
              !strcmp(aha_tok_piece(AHA_TOK_NEWLINE), "\n"),
          "special spellings");
    CHECK(aha_tok_piece(AHA_TOK_VOCAB) == NULL && aha_tok_piece(-1) == NULL, "piece range");

    /* <pad>: encodes to the pad id, which decode skips */
    CHECK(aha_tok_encode("a<pad>b", ids, 64, &n) == 0 && n == 3 && ids[1] == AHA_TOK_PAD,
          "pad encodes");
    char out[64];
    CHECK(aha_tok_decode(ids, n, out, sizeof out) == 0 && !strcmp(out, "ab"), "pad skipped: '%s'",
          out);
    int pads[4] = {AHA_TOK_PAD, AHA_TOK_FIRST_CHAR + 1, AHA_TOK_PAD, AHA_TOK_PAD};
    CHECK(aha_tok_decode(pads, 4, out, 2) == 0 && !strcmp(out, "!"), "pads need no room");
    CHECK(aha_tok_decode(pads, 1, out, 1) == 0 && out[0] == 0, "only pad -> empty string");
    CHECK(aha_tok_decode(NULL, 0, out, 1) == 0 && out[0] == 0, "no ids -> empty string");

    /* encode capacity: AHA_ERR_RANGE, nothing written */
    int guard[8];
    for (int i = 0; i < 8; i++)
        guard[i] = -7;
    n = 77;
    CHECK(aha_tok_encode("abcdef", guard, 3, &n) == AHA_ERR_RANGE && n == 77,
          "capacity error leaves n_out");
    CHECK(guard[0] == -7 && guard[2] == -7, "capacity error leaves ids");
    CHECK(strstr(aha_last_error(), "6 tokens") && strstr(aha_last_error(), "3"),
          "capacity message: %s", aha_last_error());
    CHECK(aha_tok_encode("<think>ab", guard, 2, &n) == AHA_ERR_RANGE && n == 77,
          "specials counted as one each");
    CHECK(aha_tok_encode("<think>ab", guard, 3, &n) == 0 && n == 3, "exact capacity");
    n = 77;
    CHECK(aha_tok_encode("", NULL, 0, &n) == 0 && n == 0, "empty text, no buffer");
    n = 77;
    CHECK(aha_tok_encode("a", NULL, 0, &n) == AHA_ERR_RANGE && n == 77, "cap 0");
    {
        /* exact-size heap buffer: ASan catches any write past it */
        int *ex = malloc(sizeof(int) * 5);
        CHECK(aha_tok_encode("<bos>1234", ex, 5, &n) == 0 && n == 5, "exact heap fit");
        CHECK(aha_tok_encode("<bos>12345", ex, 5, &n) == AHA_ERR_RANGE, "one over");
        free(ex);
    }

    /* bad input bytes: AHA_ERR_FORMAT naming the offset, nothing written */
    n = 77;
    guard[0] = -7;
    CHECK(aha_tok_encode("caf\xc3\xa9", guard, 8, &n) == AHA_ERR_FORMAT && n == 77 &&
              guard[0] == -7,
          "non-ASCII rejected");
    CHECK(strstr(aha_last_error(), "offset 3") != NULL, "message names the offset: %s",
          aha_last_error());
    CHECK(aha_tok_encode("a\tb", ids, 64, &n) == AHA_ERR_FORMAT, "tab rejected");
    CHECK(aha_tok_encode("a\rb", ids, 64, &n) == AHA_ERR_FORMAT, "CR rejected");
    CHECK(aha_tok_encode("\x7f", ids, 64, &n) == AHA_ERR_FORMAT, "DEL rejected");
    CHECK(aha_tok_encode("\x01", ids, 64, &n) == AHA_ERR_FORMAT, "control char rejected");
    CHECK(aha_tok_encode("\xff", ids, 64, &n) == AHA_ERR_FORMAT, "0xff rejected");
    CHECK(aha_tok_encode("<think\x80>", ids, 64, &n) == AHA_ERR_FORMAT,
          "bad byte in a partial special");
    CHECK(strstr(aha_last_error(), "0x80") && strstr(aha_last_error(), "offset 6"), "message: %s",
          aha_last_error());
    CHECK(aha_tok_encode("abc\xc3", ids, 2, &n) == AHA_ERR_FORMAT, "bad byte wins over capacity");

    /* bad arguments */
    CHECK(aha_tok_encode(NULL, ids, 64, &n) == AHA_ERR_ARG, "NULL text");
    CHECK(aha_tok_encode("a", ids, 64, NULL) == AHA_ERR_ARG, "NULL n_out");
    CHECK(aha_tok_encode("a", NULL, 4, &n) == AHA_ERR_ARG, "NULL ids");
    CHECK(aha_tok_encode("a", ids, -1, &n) == AHA_ERR_ARG, "negative cap");
    CHECK(aha_tok_decode(ids, -1, out, sizeof out) == AHA_ERR_ARG, "negative n");
    CHECK(aha_tok_decode(ids, 1, NULL, 8) == AHA_ERR_ARG, "NULL out");

    /* decode: out-of-range ids */
    strcpy(out, "keep");
    int bad[2] = {AHA_TOK_FIRST_CHAR, AHA_TOK_VOCAB};
    CHECK(aha_tok_decode(bad, 2, out, sizeof out) == AHA_ERR_ARG && !strcmp(out, "keep"),
          "id == vocab");
    CHECK(strstr(aha_last_error(), "105") && strstr(aha_last_error(), "position 1"), "message: %s",
          aha_last_error());
    int neg[1] = {-1};
    CHECK(aha_tok_decode(neg, 1, out, sizeof out) == AHA_ERR_ARG, "negative id");
    int huge[1] = {1 << 30};
    CHECK(aha_tok_decode(huge, 1, out, sizeof out) == AHA_ERR_ARG, "huge id");

    /* decode capacity: every cap below the need fails without writing past cap (exact heap
     * buffers, so ASan sees any overflow); the exact need succeeds */
    {
        const char *text =
            "<bos><|User|>9+9<|Assistant|><think>9+9=18;</think><answer>18</answer><eos>";
        int tids[128], tn;
        CHECK(aha_tok_encode(text, tids, 128, &tn) == 0, "encode");
        size_t need = strlen(text) + 1;
        for (size_t cap = 0; cap <= need; cap++) {
            char *b = malloc(cap ? cap : 1);
            if (cap) memset(b, 'Z', cap);
            int rc = aha_tok_decode(tids, tn, b, cap);
            if (cap < need) {
                CHECK(rc == AHA_ERR_RANGE, "cap %zu: rc %d", cap, rc);
                CHECK(cap == 0 || b[0] == 'Z', "cap %zu: buffer untouched", cap);
            } else {
                CHECK(rc == 0 && !strcmp(b, text), "exact cap %zu", cap);
            }
            free(b);
        }
    }
    int think[2] = {AHA_TOK_THINK, AHA_TOK_THINK};
    CHECK(aha_tok_decode(think, 2, out, 8) == AHA_ERR_RANGE, "decode capacity (14 bytes into 8)");
    CHECK(aha_tok_decode(think, 1, out, 8) == 0 && !strcmp(out, "<think>"), "exact fit");
}

static const tu_case_t cases[] = {
    {"round_trips", test_round_trips},
    {"encode_decode", test_encode_decode},
};

TU_MAIN(cases)
