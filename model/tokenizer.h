/* model/tokenizer.h — character-level tokenizer with special tokens. Stateless, fixed vocabulary:
 *   0 <pad>  1 <bos>  2 <eos>  3 <think>  4 </think>  5 <answer>  6 </answer>
 *   7 <|User|>  8 <|Assistant|>  9 '\n'  10.. printable ASCII 32..126 (id = 10 + c - 32)
 * Encoding recognises the special-token spellings above inside text; any other byte outside
 * '\n' and 32..126 is an error (AHA_ERR_FORMAT naming the byte offset). */
#ifndef AHA_MODEL_TOKENIZER_H
#define AHA_MODEL_TOKENIZER_H
#include <stddef.h>

enum {
    AHA_TOK_PAD = 0,
    AHA_TOK_BOS,
    AHA_TOK_EOS,
    AHA_TOK_THINK,
    AHA_TOK_THINK_END,
    AHA_TOK_ANSWER,
    AHA_TOK_ANSWER_END,
    AHA_TOK_USER,
    AHA_TOK_ASSISTANT,
    AHA_TOK_NEWLINE,
    AHA_TOK_FIRST_CHAR,
    AHA_TOK_VOCAB = AHA_TOK_FIRST_CHAR + 95
};

/* Encodes TEXT into ids[0..*n_out); AHA_ERR_RANGE if more than CAP ids are needed. */
int aha_tok_encode(const char *text, int *ids, int cap, int *n_out);
/* Decodes ids (special tokens spelled out, <pad> skipped) into a NUL-terminated string;
 * AHA_ERR_RANGE if it does not fit in CAP bytes, AHA_ERR_ARG for an id outside the vocabulary. */
int aha_tok_decode(const int *ids, int n, char *out, size_t cap);
/* Spelling of one id ("<think>", "7", "\n"), or NULL if out of range. */
const char *aha_tok_piece(int id);

#endif
