# work.jq — the jq application benchmark (scripts/bench_app.sh), over the
# JSON array written by bench/apps/gen.py json: parsing, selection, grouping,
# sorting, string splitting and regular expressions, building new objects.
# Deterministic output (sort_by and group_by are stable; ties broken by id or
# key). jq 1.6 is quadratic on some operations (an object updated in a
# reduce, splits/gsub with a regex, join): they are left out.
{
  records: length,
  active: map(select(.active)) | length,
  by_category: (group_by(.category) | map({
      category: .[0].category,
      n: length,
      value: (map(.value) | add | . * 100 | round / 100),
      tags: (map(.tags | length) | add),
      zsum: ([.[].pos.z[]] | add)
  })),
  top_values: (sort_by(-.value, .id) | .[:10] | map({id, name, value})),
  words: ([.[].text | split(" ") | length] | add),
  long_texts: (map(select(.text | length > 120)) | map({id, n: (.text | split(" ") | length)}) | sort_by(-.n, .id) | .[:5]),
  names: (map(select(.name | test("^(ka|ro)[a-z]*ing"))) | map(.name) | unique | length),
  near: (map(select(.pos.x < 500 and .pos.y < 500)) | sort_by(.pos.x * .pos.x + .pos.y * .pos.y, .id) | .[:5] | map(.id)),
  tag_sets: (map({c: .category, t: (.tags | sort | join(","))}) | unique_by(.t) | length)
}
