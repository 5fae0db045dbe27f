/* Local glue for the vendored widget manager (loaded after require.js, before embed-amd.js).
 *
 * 1. Each bundle in embed-amd.js computes the URL of its icon fonts from its own AMD
 *    module id ("@jupyter-widgets/controls", ...), which require.js resolves against the
 *    page. Map every id to a name inside this folder so the fonts load from the book.
 * 2. The 1.x manager typesets widget labels with the MathJax 2 call MathJax.Hub.Queue; the
 *    book uses MathJax 3. Give every MathJax object a tiny Hub that forwards to
 *    typesetPromise, so labels with math are typeset and no page error is raised.
 */
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (here && window.require && window.require.config) {
    var dir = here.substring(0, here.lastIndexOf("/"));
    var ids = ["base", "base7", "controls", "controls7", "html-manager",
               "html-manager/dist/libembed-amd"];
    var paths = {};
    ids.forEach(function (id) {
      paths["@jupyter-widgets/" + id] = dir + "/" + id.split("/").pop();
    });
    window.require.config({ paths: paths });
  }

  function addHub(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      mj.Hub = {
        Queue: function (job) {
          var el = job && job[2];
          var live = window.MathJax;
          if (el && live && live.typesetPromise) {
            live.typesetPromise([el]).catch(function () {});
          }
        },
      };
    }
    return mj;
  }
  var current = addHub(window.MathJax);
  try {
    Object.defineProperty(window, "MathJax", {
      configurable: true,
      get: function () { return current; },
      set: function (v) { current = addHub(v); },
    });
  } catch (e) {
    /* leave MathJax alone if the property cannot be redefined */
  }
})();
