namespace PureLlama.Cli.Charts;

/// <summary>An RGB canvas [height, width, 3] with lines (Bresenham), rectangles and 5×7 bitmap text.</summary>
internal sealed class Raster
{
    private readonly byte[] _rgb;

    /// <summary>A canvas filled with <paramref name="background"/>.</summary>
    public Raster(int width, int height, Rgb background)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"A canvas needs a positive size, not {width}×{height}.");
        Width = width; Height = height;
        _rgb = new byte[width * height * 3];
        FillRect(0, 0, width, height, background);
    }

    /// <summary>Pixels per row.</summary>
    public int Width { get; }
    /// <summary>Rows.</summary>
    public int Height { get; }
    /// <summary>The pixels [height, width, 3], top row first.</summary>
    public ReadOnlySpan<byte> Pixels => _rgb;

    /// <summary>Sets one pixel (ignored outside the canvas).</summary>
    public void Set(int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        _rgb[i] = c.R; _rgb[i + 1] = c.G; _rgb[i + 2] = c.B;
    }

    /// <summary>The colour at (x, y).</summary>
    public Rgb Get(int x, int y)
    {
        int i = (y * Width + x) * 3;
        return new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]);
    }

    /// <summary>Fills [x, x+w) × [y, y+h).</summary>
    public void FillRect(int x, int y, int w, int h, Rgb c)
    {
        for (int yy = y; yy < y + h; yy++)
            for (int xx = x; xx < x + w; xx++) Set(xx, yy, c);
    }

    /// <summary>A line from (x0, y0) to (x1, y1), <paramref name="thickness"/> pixels wide (Bresenham, square pen).</summary>
    public void Line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        int err = dx + dy, half = (thickness - 1) / 2;
        for (int guard = 0; guard < 1 << 20; guard++)
        {
            FillRect(x0 - half, y0 - half, thickness, thickness, c);
            if (x0 == x1 && y0 == y1) return;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/>.</summary>
    public static int TextWidth(string text, int scale = 1) => text.Length * 6 * scale - scale;

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y); capitals draw as small letters, unknown characters as a box.</summary>
    public void Text(int x, int y, string text, Rgb c, int scale = 1)
    {
        foreach (char ch in text)
        {
            var rows = BitmapFont.Glyph(char.ToLowerInvariant(ch));
            for (int r = 0; r < 7; r++)
                for (int col = 0; col < 5; col++)
                    if ((rows[r] >> (4 - col) & 1) != 0) FillRect(x + col * scale, y + r * scale, scale, scale, c);
            x += 6 * scale;
        }
    }
}

/// <summary>An 8-bit RGB colour.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>White.</summary>
    public static Rgb White => new(255, 255, 255);
    /// <summary>Black.</summary>
    public static Rgb Black => new(0, 0, 0);
}

/// <summary>A 5×7 bitmap font: digits, small letters (capitals draw as small letters) and the signs the charts use.</summary>
internal static class BitmapFont
{
    private static readonly Dictionary<char, byte[]> s_glyphs = Build();
    private static readonly byte[] s_box = [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F];

    /// <summary>Seven rows of five bits (bit 4 = leftmost pixel).</summary>
    public static byte[] Glyph(char c) => s_glyphs.TryGetValue(c, out var g) ? g : s_box;

    private static Dictionary<char, byte[]> Build()
    {
        // Each glyph: 7 rows of 5 characters, '#' = ink.
        var art = new Dictionary<char, string>
        {
            ['0'] = ".###. #...# #..## #.#.# ##..# #...# .###.",
            ['1'] = "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
            ['2'] = ".###. #...# ....# ...#. ..#.. .#... #####",
            ['3'] = "##### ...#. ..#.. ...#. ....# #...# .###.",
            ['4'] = "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
            ['5'] = "##### #.... ####. ....# ....# #...# .###.",
            ['6'] = "..##. .#... #.... ####. #...# #...# .###.",
            ['7'] = "##### ....# ...#. ..#.. .#... .#... .#...",
            ['8'] = ".###. #...# #...# .###. #...# #...# .###.",
            ['9'] = ".###. #...# #...# .#### ....# ...#. .##..",
            ['.'] = "..... ..... ..... ..... ..... .##.. .##..",
            ['-'] = "..... ..... ..... ##### ..... ..... .....",
            ['+'] = "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
            [':'] = "..... .##.. .##.. ..... .##.. .##.. .....",
            ['/'] = "..... ....# ...#. ..#.. .#... #.... .....",
            [' '] = "..... ..... ..... ..... ..... ..... .....",
            ['a'] = "..... ..... .###. ....# .#### #...# .####",
            ['d'] = "....# ....# .##.# #..## #...# #...# .####",
            ['e'] = "..... ..... .###. #...# ##### #.... .###.",
            ['g'] = "..... .#### #...# #...# .#### ....# .###.",
            ['i'] = "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
            ['k'] = "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
            ['l'] = ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
            ['m'] = "..... ..... ##.#. #.#.# #.#.# #...# #...#",
            ['n'] = "..... ..... #.##. ##..# #...# #...# #...#",
            ['o'] = "..... ..... .###. #...# #...# #...# .###.",
            ['p'] = "..... ..... ####. #...# ####. #.... #....",
            ['r'] = "..... ..... #.##. ##..# #.... #.... #....",
            ['s'] = "..... ..... .#### #.... .###. ....# ####.",
            ['t'] = ".#... .#... ###.. .#... .#... .#..# ..##.",
            ['v'] = "..... ..... #...# #...# #...# .#.#. ..#..",
            ['x'] = "..... ..... #...# .#.#. ..#.. .#.#. #...#",
            ['b'] = "#.... #.... #.##. ##..# #...# #...# ####.",
            ['c'] = "..... ..... .###. #.... #.... #...# .###.",
            ['f'] = "..##. .#..# .#... ###.. .#... .#... .#...",
            ['h'] = "#.... #.... #.##. ##..# #...# #...# #...#",
            ['j'] = "...#. ..... ..##. ...#. ...#. #..#. .##..",
            ['q'] = "..... ..... .##.# #..## .#### ....# ....#",
            ['u'] = "..... ..... #...# #...# #...# #..## .##.#",
            ['w'] = "..... ..... #...# #...# #.#.# #.#.# .#.#.",
            ['y'] = "..... ..... #...# #...# .#### ....# .###.",
            ['z'] = "..... ..... ##### ...#. ..#.. .#... #####",
            ['('] = "...#. ..#.. .#... .#... .#... ..#.. ...#.",
            [')'] = ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
            [','] = "..... ..... ..... ..... .##.. ..#.. .#...",
            ['%'] = "##... ##..# ...#. ..#.. .#... #..## ...##",
            ['='] = "..... ..... ##### ..... ##### ..... .....",
            ['>'] = ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
            ['<'] = "...#. ..#.. .#... #.... .#... ..#.. ...#.",
            ['_'] = "..... ..... ..... ..... ..... ..... #####",
            ['\''] = "..#.. ..#.. .#... ..... ..... ..... .....",
            ['"'] = ".#.#. .#.#. ..... ..... ..... ..... .....",
            ['{'] = "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",
            ['}'] = ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",
        };
        var glyphs = new Dictionary<char, byte[]>();
        foreach (var (ch, rows) in art)
        {
            var parts = rows.Split(' ');
            var bits = new byte[7];
            for (int r = 0; r < 7; r++)
                for (int col = 0; col < 5; col++)
                    if (parts[r][col] == '#') bits[r] |= (byte)(1 << (4 - col));
            glyphs[ch] = bits;
        }
        return glyphs;
    }
}
