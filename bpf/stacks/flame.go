package stacks

import (
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"slices"
	"strings"
)

// node is a frame of the flame graph: a function in a call path, with the
// samples of the stacks through it.
type node struct {
	name     string
	count    uint64
	children []*node
}

// child is n's child named name, made when missing.
func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	c := &node{name: name}
	n.children = append(n.children, c)
	return c
}

// tree is p's stacks merged by call path, outermost at the root; with
// perPod each pod's stacks hang under a frame named for it.
func (p *Profile) tree(perPod bool) *node {
	root := &node{name: "all"}
	for _, s := range p.Stacks {
		n := root
		n.count += s.Count
		if perPod && s.Pod != "" {
			n = n.child(s.Pod)
			n.count += s.Count
		}
		for i := len(s.Frames) - 1; i >= 0; i-- {
			n = n.child(s.Frames[i].Func)
			n.count += s.Count
		}
	}
	return root
}

// Flame graph geometry.
const (
	flameWidth  = 1200.0
	frameHeight = 17
	flamePad    = 30 // above the frames: the title and the search
	minWidth    = 0.1
)

// WriteSVG writes p as a self-contained interactive flame graph: the
// outermost frames at the bottom, each frame as wide as its share of the
// samples; hovering shows a frame's name and share, clicking zooms into it
// (and the reset frame back out), and search (or Ctrl-F) highlights the
// frames whose name matches and shows their share; ?z=NAME in its address
// opens it zoomed into the first frame named NAME, ?s=RE searched for RE.
// It fetches nothing.
func (p *Profile) WriteSVG(w io.Writer, title string, perPod bool) error {
	root := p.tree(perPod)
	depth := 0
	var walk func(n *node, d int)
	walk = func(n *node, d int) {
		depth = max(depth, d)
		for _, c := range n.children {
			walk(c, d+1)
		}
	}
	walk(root, 0)
	height := flamePad + (depth+1)*frameHeight + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg" data-total="%d">
<style>
text { font-family: monospace; font-size: 12px; fill: #000; pointer-events: none; }
.f rect { stroke: #fff; stroke-width: 0.5; rx: 2; cursor: pointer; }
.f:hover rect { stroke: #000; }
.f.match rect { fill: #e040e0; }
.f.out { display: none; }
.f.above rect { opacity: 0.5; }
#title { font-size: 16px; }
#search, #reset { cursor: pointer; fill: #06c; pointer-events: all; }
</style>
<rect width="100%%" height="100%%" fill="#fdfdf8"/>
<text id="title" x="%d" y="20" text-anchor="middle">%s</text>
<text id="reset" x="10" y="20" visibility="hidden">Reset zoom</text>
<text id="search" x="%d" y="20" text-anchor="end">Search</text>
<text id="matched" x="%d" y="%d" text-anchor="end"></text>
<text id="details" x="10" y="%d"> </text>
<g id="frames">
`, int(flameWidth), height, int(flameWidth), height, root.count, int(flameWidth)/2, html.EscapeString(title),
		int(flameWidth)-10, int(flameWidth)-10, height-10, height-10)
	var draw func(n *node, x float64, d int)
	draw = func(n *node, x float64, d int) {
		width := flameWidth * float64(n.count) / float64(max(root.count, 1))
		if width < minWidth {
			return
		}
		y := height - 40 - (d+1)*frameHeight
		share := 100 * float64(n.count) / float64(max(root.count, 1))
		name := html.EscapeString(n.name)
		fmt.Fprintf(&b, `<g class="f" data-x="%.3f" data-w="%.3f" data-d="%d" data-n="%d"><title>%s (%d samples, %.2f%%)</title><rect x="%.3f" y="%d" width="%.3f" height="%d" fill="%s"/><text x="%.3f" y="%d">%s</text></g>
`, x, width, d, n.count, name, n.count, share, x, y, width, frameHeight-1, color(n.name), x+3, y+12, html.EscapeString(fit(n.name, width)))
		children := slices.Clone(n.children)
		slices.SortFunc(children, func(a, b *node) int { return strings.Compare(a.name, b.name) })
		for _, c := range children {
			draw(c, x, d+1)
			x += flameWidth * float64(c.count) / float64(max(root.count, 1))
		}
	}
	draw(root, 0, 0)
	b.WriteString("</g>\n<script><![CDATA[\n" + flameScript + "]]></script>\n</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fit is name cut to what width holds at the font's 7 pixels a character.
func fit(name string, width float64) string {
	chars := int((width - 6) / 7)
	switch {
	case chars < 3:
		return ""
	case len(name) <= chars:
		return name
	}
	return name[:chars-2] + ".."
}

// color is a warm color of name's own, the same in every graph.
func color(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	v := h.Sum32()
	return fmt.Sprintf("rgb(%d,%d,%d)", 205+v%50, 80+(v>>8)%130, 30+(v>>16)%50)
}

// flameScript zooms, searches and describes; it works on the frames' data
// attributes (x, width, depth, samples) alone.
const flameScript = `
var W = 1200, frames = Array.prototype.slice.call(document.querySelectorAll('.f'));
var total = +document.documentElement.getAttribute('data-total');
var details = document.getElementById('details'), matched = document.getElementById('matched');
var reset = document.getElementById('reset');
function fit(name, w) { var c = Math.floor((w - 6) / 7); if (c < 3) return ''; return name.length <= c ? name : name.slice(0, c - 2) + '..'; }
function place(g, x, w) {
  var r = g.querySelector('rect'), t = g.querySelector('text');
  r.setAttribute('x', x); r.setAttribute('width', w);
  t.setAttribute('x', x + 3); t.textContent = fit(g.name, w);
}
frames.forEach(function (g) {
  g.name = g.querySelector('title').textContent.replace(/ \([0-9]+ samples, [0-9.]+%\)$/, '');
  g.x = +g.getAttribute('data-x'); g.w = +g.getAttribute('data-w'); g.d = +g.getAttribute('data-d');
  g.addEventListener('mouseover', function () { details.textContent = g.querySelector('title').textContent; });
  g.addEventListener('mouseout', function () { details.textContent = ' '; });
  g.addEventListener('click', function () { zoom(g); });
});
function zoom(z) {
  frames.forEach(function (g) {
    g.classList.remove('out', 'above');
    var inside = g.x >= z.x - 0.0001 && g.x + g.w <= z.x + z.w + 0.0001;
    if (g.d >= z.d && inside) { place(g, (g.x - z.x) * W / z.w, g.w * W / z.w); }
    else if (g.d < z.d && g.x <= z.x + 0.0001 && g.x + g.w >= z.x + z.w - 0.0001) { g.classList.add('above'); place(g, 0, W); }
    else { g.classList.add('out'); }
  });
  reset.setAttribute('visibility', z.d > 0 ? 'visible' : 'hidden');
}
reset.addEventListener('click', function () { zoom(frames[0]); });
function search(term) {
  var re = null, n = 0, seen = [];
  if (term) { try { re = new RegExp(term); } catch (e) { re = null; } }
  frames.forEach(function (g) {
    var hit = re !== null && re.test(g.name);
    g.classList.toggle('match', hit);
    if (hit && !seen.some(function (s) { return g.x >= s.x && g.x + g.w <= s.x + s.w; })) { seen.push(g); n += +g.getAttribute('data-n'); }
  });
  matched.textContent = re ? 'Matched: ' + (100 * n / total).toFixed(1) + '%' : '';
}
document.getElementById('search').addEventListener('click', function () { search(prompt('Search for (a regular expression):', '')); });
document.addEventListener('keydown', function (e) { if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); search(prompt('Search for (a regular expression):', '')); } });
var q = new URLSearchParams(location.search);
if (q.get('z')) { frames.some(function (g) { if (g.name === q.get('z')) { zoom(g); return true; } return false; }); }
if (q.get('s')) search(q.get('s'));
`
