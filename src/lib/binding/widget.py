"""Compose a two-object scene and watch its three codes: a kernel-free widget.

Everything the widget shows is computed here, in Python, for every two-object
scene (540 of them): the codes, the scenes that share each code, and what each
trained reader answers. The page only looks the chosen scene up, so the widget
works the same in Jupyter, on Colab and in the rendered book, with no kernel.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import torch
from torch import nn

from .codes import CODES, _keys, encode, make_queries
from .scenes import (
    COLOR_NAMES,
    COLORS,
    SHAPE_NAMES,
    SPRITES,
    World,
    all_scenes,
)


def composer_data(readers: dict[str, nn.Module], world: World = World()) -> dict:
    """Per two-object scene: its codes, look-alikes and each reader's answers.

    Keyed by "c1-s1-c2-s2" (objects in shape order); look-alikes are listed by
    key, answers as one digit (a colour id) per object.
    """
    scenes = all_scenes(2, world=world)
    idx, shape, _ = make_queries(scenes)
    table = {}
    for code in CODES:
        keys = _keys(scenes, code, world)
        groups: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        x = encode(scenes, code, world=world)
        with torch.no_grad():
            answers = readers[code](x[idx], torch.from_numpy(shape)).argmax(1).numpy()
        answers = answers.reshape(len(scenes), 2)
        for i, scene in enumerate(scenes):
            row = table.setdefault(
                _key(scene), {"codes": {}, "alike": {}, "answers": {}}
            )
            units = x[i].int()
            if code == "conjunctive":  # the units that are on
                row["codes"][code] = units.nonzero().flatten().tolist()
            else:  # digit strings, one per slot: "100000010000"
                rows = units.view(-1, units.shape[-1]).tolist()
                row["codes"][code] = ["".join(map(str, r)) for r in rows]
            row["alike"][code] = [_key(scenes[j]) for j in groups[keys[i]] if j != i]
            row["answers"][code] = "".join(map(str, answers[i].tolist()))
    return table


def _key(scene: np.ndarray) -> str:
    (c1, s1, _), (c2, s2, _) = sorted(scene.tolist(), key=lambda o: o[1])
    return f"{c1}-{s1}-{c2}-{s2}"


def scene_composer(readers: dict[str, nn.Module], world: World = World()):
    """The widget, as HTML with a small script (no kernel needed to use it)."""
    from IPython.display import HTML

    if world != World():
        raise ValueError("the composer is drawn for the default World")
    uid = "bind" + uuid.uuid4().hex[:8]
    data = {
        "table": {  # positional, in CODES order, to keep the page small
            key: [
                [row[part][c] for c in CODES] for part in ("codes", "alike", "answers")
            ]
            for key, row in composer_data(readers, world).items()
        },
        "colors": COLOR_NAMES,
        "shapes": SHAPE_NAMES,
        "rgb": [[round(255 * v) for v in COLORS[c]] for c in COLOR_NAMES],
        "sprites": [list(SPRITES[s]) for s in SHAPE_NAMES],
    }
    data = json.dumps(data, separators=(",", ":"))
    return HTML(_TEMPLATE.replace("UID", uid).replace("DATA", data))


_TEMPLATE = """
<div id="UID" class="compgen-explorer"
     style="font: 13px sans-serif; border: 1px solid #ccc; padding: 10px;">
<b>Compose a scene</b> (works without a kernel: every answer was computed when
the chapter ran)<br>
<span>object 1: <select data-o="c1"></select><select data-o="s1"></select></span>
&nbsp; <span>object 2: <select data-o="c2"></select><select data-o="s2"></select></span>
<div data-out="body" style="margin-top: 8px;"></div>
</div>
<script>
(function () {
  const D = DATA, root = document.getElementById("UID");
  const sel = k => root.querySelector('[data-o="' + k + '"]');
  const fill = (k, names, v) => { names.forEach((n, i) =>
      sel(k).add(new Option(n, i))); sel(k).value = v; };
  fill("c1", D.colors, 0); fill("s1", D.shapes, 0);
  fill("c2", D.colors, 2); fill("s2", D.shapes, 1);
  const px = 6, sprite = (c, s, x0) => D.sprites[s].map((row, r) =>
      [...row].map((ch, q) => ch === "#" ? '<rect x="' + (x0 + q * px) + '" y="' +
      (6 + r * px) + '" width="' + px + '" height="' + px + '" fill="rgb(' +
      D.rgb[c].join(",") + ')"/>' : "").join("")).join("");
  const bars = v => v.map(x => '<span style="display:inline-block;width:14px;' +
      'margin:1px;text-align:center;background:' + (x ? '#E69F00' : '#eee') + '">' +
      x + '</span>').join("");
  const describe = key => {
    const [c1, s1, c2, s2] = key.split("-").map(Number);
    return D.colors[c1] + " " + D.shapes[s1] + " + " +
      D.colors[c2] + " " + D.shapes[s2];
  };
  function draw() {
    const c1 = +sel("c1").value, s1 = +sel("s1").value;
    const c2 = +sel("c2").value, s2 = +sel("s2").value, out = root.querySelector(
      '[data-out="body"]');
    if (s1 === s2) { out.innerHTML = "<i>Pick two different shapes: in this " +
      "world a shape appears at most once per scene.</i>"; return; }
    const a = s1 < s2 ? [c1, s1, c2, s2] : [c2, s2, c1, s1];
    const row = D.table[a.join("-")];
    let h = '<svg width="84" height="42" style="background:#000">' +
      sprite(c1, s1, 6) + sprite(c2, s2, 48) + '</svg><table>';
    for (const [i, code] of ["bag", "conjunctive", "slots"].entries()) {
      const v = row[0][i], alike = row[1][i], got = [...row[2][i]].map(Number);
      const ans = [[a[1], a[0], got[0]], [a[3], a[2], got[1]]].map(([s, truth, g]) =>
        "the " + D.shapes[s] + "? " + D.colors[g] +
        (g === truth ? " &#10003;" : " &#10007;")).join("; ");
      const units = code === "conjunctive"
        ? v.map(i => D.colors[Math.floor(i / 6)] + "&nbsp;" + D.shapes[i % 6])
          .join(" + ") + " (2 of 36 units on)"
        : v.map(digits => bars([...digits].map(Number))).join(" | ");
      const same = alike.length
        ? '<span style="color:#D55E00">' + alike.map(describe).join(", ") + "</span>"
        : "no other scene";
      h += "<tr><td><b>" + code + '</b></td><td style="font-family:monospace">' +
        units + "</td></tr><tr><td></td><td>same code as: " + same +
        "<br>its reader answers: " + ans + "</td></tr>";
    }
    out.innerHTML = h + "</table><small>bag units: " +
      D.colors.concat(D.shapes).join(", ") +
      ". Slots: one 12-unit row per object, in shape order.</small>";
  }
  root.querySelectorAll("select").forEach(s => s.addEventListener("change", draw));
  draw();
})();
</script>
"""
