"""JavaScript shared by the browser tests that drive Bokeh figures."""

# ``findView(name)``: the view of the Bokeh model called ``name`` in the page (walks
# every root's child views). Prepend it to a function body that uses it.
JS_FIND = """
const findView = (name) => {
  const walk = (v) => {
    if (v.model.name === name) return v;
    for (const c of (v.child_views || [])) { const f = walk(c); if (f) return f; }
    return null;
  };
  for (const r of Bokeh.index.roots) { const f = walk(r); if (f) return f; }
  return null;
};
"""
