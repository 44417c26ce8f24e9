// Code 128 (code set B) drawn as SVG, for a parked basket's barcode (`PB1-3`): no
// library, no network. code128Widths() is pure (the test checks it); code128Svg()
// builds the element with the DOM (attributes only: the page's CSP allows no inline
// style).

// Bar/space widths of the 107 symbols (values 0–102, start A/B/C, stop), in modules.
const PATTERNS = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];
const START_B = 104;
const STOP = 106;

/** The symbol values of `text` in code set B, with its check symbol (printable ASCII only). */
export function code128Values(text) {
    const values = [START_B];
    for (const ch of String(text)) {
        const code = ch.charCodeAt(0);
        if (code < 32 || code > 126) throw new Error(`not printable ASCII: ${JSON.stringify(ch)}`);
        values.push(code - 32);
    }
    let sum = values[0];
    for (let i = 1; i < values.length; i++) sum += values[i] * i;
    values.push(sum % 103, STOP);
    return values;
}

/** Alternating bar, space, bar… widths in modules (starting with a bar). */
export function code128Widths(text) {
    const widths = [];
    for (const value of code128Values(text)) {
        for (const digit of PATTERNS[value]) widths.push(Number(digit));
    }
    return widths;
}

/** An <svg> of the barcode, `height` modules tall, with a 10-module quiet zone each side. */
export function code128Svg(text, { height = 60, title = text } = {}) {
    const NS = "http://www.w3.org/2000/svg";
    const widths = code128Widths(text);
    const quiet = 10;
    const total = widths.reduce((a, b) => a + b, 0) + 2 * quiet;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${total} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", title);
    svg.setAttribute("shape-rendering", "crispEdges");
    const background = document.createElementNS(NS, "rect");
    background.setAttribute("width", String(total));
    background.setAttribute("height", String(height));
    background.setAttribute("fill", "#fff");
    svg.append(background);
    let x = quiet;
    widths.forEach((w, i) => {
        if (i % 2 === 0) {
            const bar = document.createElementNS(NS, "rect");
            bar.setAttribute("x", String(x));
            bar.setAttribute("width", String(w));
            bar.setAttribute("height", String(height));
            bar.setAttribute("fill", "#000");
            svg.append(bar);
        }
        x += w;
    });
    svg.dataset.modules = String(total);
    return svg;
}
