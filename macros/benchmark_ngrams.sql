{#- The word n-grams the benchmark-overlap check matches (docs/flags.md, "benchmark_text"), one
    definition for both sides of int_benchmark_overlaps: the benchmark's problem statements and the
    task text of the rows.

    As in GPT-3's decontamination (Brown et al. 2020, appendix C) and its reimplementation in EleutherAI's
    lm-evaluation-harness (scripts/clean_training_data, janitor.py): 13-grams of words, lower-cased,
    ASCII punctuation removed, split on whitespace (docs/flags.md says why). -#}

{% macro ngram_size() -%}
    13
{%- endmacro %}


{% macro normalized_words(text) -%}
    {#- the text's words: lower case, punctuation removed, split on runs of whitespace -#}
    string_split_regex(trim(regexp_replace(lower({{ text }}), '[[:punct:]]+', '', 'g')), '\s+')
{%- endmacro %}


{% macro ngram_hashes(words) -%}
    {#- one 64-bit hash per n-gram of the word list, a list; [] for a text shorter than an n-gram. The
        n-grams are the word list zipped with itself shifted by 1 .. n-1 (list_zip, truncated to the
        shortest): each word is read n times in one pass, where a lambda slicing the list at every position
        would copy the whole list per n-gram (measured: 20x slower on make bench's rows) -#}
    list_transform(
        list_zip(
            {%- for offset in range(1, ngram_size() | int + 1) %}
            {{ words }}[{{ offset }}:],
            {%- endfor %}
            true
        ),
        lambda ngram: hash(ngram)
    )
{%- endmacro %}
