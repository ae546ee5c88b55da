using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace ModelGen;

/// <summary>A grayscale image: <see cref="Pixels"/> holds <c>Height × Width</c> values in [0, 1], row by row.</summary>
public sealed record GrayImage(int Width, int Height, float[] Pixels);

/// <summary>
/// Reads images as a model's input: PNG (every color type and bit depth of the PNG specification, interlaced or not,
/// checksums checked) and netpbm PGM/PPM (<c>P2</c>, <c>P3</c>, <c>P5</c>, <c>P6</c>, 8 or 16 bits). Color becomes gray
/// by the ITU-R BT.601 luma weights (0.299, 0.587, 0.114), as PIL's <c>convert("L")</c> does; transparent pixels are
/// composited over black (the background of the MNIST family). A malformed file gives an <see cref="InvalidDataException"/>
/// that names the file and what is wrong.
/// </summary>
public static class ImageFile
{
    /// <summary>The largest image read, in pixels (also bounds what a PNG may inflate to).</summary>
    public const long MaxPixels = 1L << 26;

    static ReadOnlySpan<byte> PngSignature => new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 };

    /// <summary>Reads a PNG or PGM/PPM file (told apart by its first bytes, not its name) as gray values in [0, 1].</summary>
    public static GrayImage ReadGray(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { throw new FileNotFoundException($"Image file '{path}' does not exist.", path, e); }
        return ReadGray(bytes, path);
    }

    /// <summary>Reads a PNG or PGM/PPM image held in memory; <paramref name="name"/> names it in error messages.</summary>
    public static GrayImage ReadGray(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.AsSpan().StartsWith(PngSignature)) return ReadPng(bytes, name);
        if (bytes.Length >= 2 && bytes[0] == 'P' && bytes[1] is (byte)'2' or (byte)'3' or (byte)'5' or (byte)'6') return ReadNetpbm(bytes, name);
        throw new InvalidDataException($"'{name}' is neither a PNG nor a PGM/PPM image (its first bytes are no PNG signature and no P2, P3, P5 or P6).");
    }

    static InvalidDataException Bad(string name, string problem) => new($"Image '{name}': {problem}.");

    static float Luma(float r, float g, float b) => 0.299f * r + 0.587f * g + 0.114f * b;

    static int CheckedPixels(string name, long width, long height)
    {
        if (width <= 0 || height <= 0) throw Bad(name, $"size {width} x {height} is empty");
        if (width * height > MaxPixels) throw Bad(name, $"size {width} x {height} exceeds the limit of {MaxPixels:N0} pixels");
        return (int)(width * height);
    }

    // ---- netpbm -------------------------------------------------------------------------------------------------

    static GrayImage ReadNetpbm(byte[] bytes, string name)
    {
        char kind = (char)bytes[1];
        bool color = kind is '3' or '6', ascii = kind is '2' or '3';
        int position = 2;
        long width = NextNumber(bytes, ref position, name, "width");
        long height = NextNumber(bytes, ref position, name, "height");
        long maxValue = NextNumber(bytes, ref position, name, "maximum value");
        if (maxValue is < 1 or > 65535) throw Bad(name, $"maximum value {maxValue} is outside 1..65535");
        int count = CheckedPixels(name, width, height);
        int channels = color ? 3 : 1;
        var samples = new float[(long)count * channels];
        if (ascii)
        {
            for (int i = 0; i < samples.Length; i++)
            {
                long v = NextNumber(bytes, ref position, name, "sample");
                if (v > maxValue) throw Bad(name, $"sample {i} is {v}, above the maximum value {maxValue}");
                samples[i] = v / (float)maxValue;
            }
        }
        else
        {
            position++;   // exactly one whitespace byte ends the header of a binary file
            int size = maxValue > 255 ? 2 : 1;
            long needed = (long)samples.Length * size;
            if (bytes.Length - (long)position < needed)
                throw Bad(name, $"the pixel data is truncated: {Math.Max(0, bytes.Length - position)} bytes where {width} x {height} needs {needed}");
            for (int i = 0; i < samples.Length; i++)
            {
                int v = size == 1 ? bytes[position + i] : BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(position + 2 * i));
                if (v > maxValue) throw Bad(name, $"sample {i} is {v}, above the maximum value {maxValue}");
                samples[i] = v / (float)maxValue;
            }
        }
        if (!color) return new GrayImage((int)width, (int)height, samples);
        var gray = new float[count];
        for (int i = 0; i < count; i++) gray[i] = Luma(samples[3 * i], samples[3 * i + 1], samples[3 * i + 2]);
        return new GrayImage((int)width, (int)height, gray);
    }

    // A decimal number after whitespace and '#' comments, as the netpbm header and ASCII samples are written.
    static long NextNumber(byte[] bytes, ref int position, string name, string what)
    {
        while (position < bytes.Length)
        {
            byte b = bytes[position];
            if (b == '#') { while (position < bytes.Length && bytes[position] != '\n') position++; }
            else if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') position++;
            else break;
        }
        long value = 0;
        int start = position;
        while (position < bytes.Length && bytes[position] is >= (byte)'0' and <= (byte)'9')
        {
            value = value * 10 + (bytes[position++] - '0');
            if (value > int.MaxValue) throw Bad(name, $"the {what} is larger than {int.MaxValue}");
        }
        if (position == start)
            throw Bad(name, position < bytes.Length ? $"expected the {what} as a decimal number at byte {position}" : $"the file ends before the {what}");
        return value;
    }

    // ---- PNG ----------------------------------------------------------------------------------------------------

    sealed class PngHeader
    {
        public int Width, Height, BitDepth, ColorType, Interlace, Channels;
        public byte[]? Palette;              // RGB triples (PLTE)
        public byte[]? PaletteAlpha;         // tRNS for color type 3
        public int[]? TransparentKey;        // tRNS for color types 0 and 2: the sample value(s) that are transparent
        public int BitsPerPixel => Channels * BitDepth;
        public int FilterStride => Math.Max(1, BitsPerPixel / 8);
        public long RowBytes(int width) => ((long)width * BitsPerPixel + 7) / 8;
    }

    // The seven passes of Adam7: first column, first row, column step, row step.
    static readonly (int X, int Y, int Dx, int Dy)[] Adam7 =
        { (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2) };

    static GrayImage ReadPng(byte[] bytes, string name)
    {
        PngHeader? header = null;
        var compressed = new MemoryStream();
        int position = PngSignature.Length;
        bool ended = false;
        while (!ended)
        {
            if (bytes.Length - position < 12) throw Bad(name, $"the file ends inside a chunk header at byte {position} (no IEND chunk)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(position));
            string type = Encoding.ASCII.GetString(bytes, position + 4, 4);
            if (length > int.MaxValue || bytes.Length - (long)position - 12 < length)
                throw Bad(name, $"chunk {type} at byte {position} declares {length} bytes, more than the file holds");
            var data = bytes.AsSpan(position + 8, (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(position + 8 + (int)length));
            uint computed = Crc32(bytes.AsSpan(position + 4, (int)length + 4));
            if (stored != computed) throw Bad(name, $"chunk {type} at byte {position} fails its CRC check (stored {stored:x8}, computed {computed:x8})");
            if (header == null && type != "IHDR") throw Bad(name, $"the first chunk is {type}, not IHDR");
            switch (type)
            {
                case "IHDR": header = ReadHeader(data, name); break;
                case "PLTE":
                    if (length % 3 != 0 || length == 0 || length > 768) throw Bad(name, $"PLTE holds {length} bytes, not 3 per entry for 1..256 entries");
                    header!.Palette = data.ToArray();
                    break;
                case "tRNS": ReadTransparency(header!, data, name); break;
                case "IDAT": compressed.Write(data); break;
                case "IEND": ended = true; break;
                default:
                    if (char.IsUpper(type[0])) throw Bad(name, $"critical chunk {type} is not part of the PNG specification this reader knows");
                    break;   // ancillary chunks (text, gamma, time, ...) do not change the pixels read here
            }
            position += 12 + (int)length;
        }
        if (header!.ColorType == 3 && header.Palette == null) throw Bad(name, "a palette image has no PLTE chunk");
        if (compressed.Length == 0) throw Bad(name, "there is no IDAT chunk");

        var passes = Passes(header);
        long expected = 0;
        foreach (var pass in passes) expected += pass.Height * (header.RowBytes(pass.Width) + 1);
        byte[] raw = Inflate(compressed, expected, name);

        var gray = new float[(long)header.Width * header.Height];
        int offset = 0;
        foreach (var (x0, y0, dx, dy, w, h) in passes)
        {
            int rowBytes = (int)header.RowBytes(w);
            var previous = new byte[rowBytes];
            var row = new byte[rowBytes];
            for (int y = 0; y < h; y++)
            {
                byte filter = raw[offset];
                raw.AsSpan(offset + 1, rowBytes).CopyTo(row);
                offset += rowBytes + 1;
                Unfilter(filter, row, previous, header.FilterStride, name, y);
                for (int x = 0; x < w; x++) gray[(long)(y0 + y * dy) * header.Width + x0 + x * dx] = GrayAt(header, row, x, name);
                (previous, row) = (row, previous);
            }
        }
        return new GrayImage(header.Width, header.Height, gray);
    }

    static PngHeader ReadHeader(ReadOnlySpan<byte> data, string name)
    {
        if (data.Length != 13) throw Bad(name, $"IHDR holds {data.Length} bytes, not 13");
        var h = new PngHeader
        {
            Width = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data), int.MaxValue),
            Height = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data[4..]), int.MaxValue),
            BitDepth = data[8], ColorType = data[9], Interlace = data[12],
        };
        CheckedPixels(name, h.Width, h.Height);
        h.Channels = h.ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw Bad(name, $"color type {h.ColorType} is not 0, 2, 3, 4 or 6") };
        bool depthOk = h.ColorType switch
        {
            0 => h.BitDepth is 1 or 2 or 4 or 8 or 16,
            3 => h.BitDepth is 1 or 2 or 4 or 8,
            _ => h.BitDepth is 8 or 16,
        };
        if (!depthOk) throw Bad(name, $"bit depth {h.BitDepth} is not allowed for color type {h.ColorType}");
        if (data[10] != 0 || data[11] != 0) throw Bad(name, $"compression method {data[10]} / filter method {data[11]} is not 0");
        if (h.Interlace > 1) throw Bad(name, $"interlace method {h.Interlace} is neither 0 (none) nor 1 (Adam7)");
        return h;
    }

    static void ReadTransparency(PngHeader h, ReadOnlySpan<byte> data, string name)
    {
        switch (h.ColorType)
        {
            case 3:
                if (h.Palette == null || data.Length > h.Palette.Length / 3) throw Bad(name, "tRNS comes before PLTE or has more entries than the palette");
                h.PaletteAlpha = data.ToArray();
                break;
            case 0 or 2:
                int samples = h.ColorType == 0 ? 1 : 3;
                if (data.Length != 2 * samples) throw Bad(name, $"tRNS holds {data.Length} bytes, not {2 * samples}");
                h.TransparentKey = new int[samples];
                for (int i = 0; i < samples; i++) h.TransparentKey[i] = BinaryPrimitives.ReadUInt16BigEndian(data[(2 * i)..]);
                break;
            default: throw Bad(name, $"tRNS is not allowed for color type {h.ColorType} (it has an alpha channel)");
        }
    }

    // The passes that hold pixels, each with its first column and row, steps and size: the whole image, or Adam7's seven
    // sub-images (a small image leaves some of them empty).
    static List<(int X0, int Y0, int Dx, int Dy, int Width, int Height)> Passes(PngHeader h)
    {
        var passes = new List<(int, int, int, int, int, int)>();
        foreach (var (x0, y0, dx, dy) in h.Interlace == 1 ? Adam7 : new[] { (0, 0, 1, 1) })
        {
            int w = (h.Width - x0 + dx - 1) / dx, hh = (h.Height - y0 + dy - 1) / dy;
            if (w > 0 && hh > 0) passes.Add((x0, y0, dx, dy, w, hh));
        }
        return passes;
    }

    // Inflates the zlib stream, refusing to produce more than the image needs: a small file cannot expand without bound.
    static byte[] Inflate(MemoryStream compressed, long expected, string name)
    {
        if (expected > int.MaxValue - 1) throw Bad(name, $"the image needs {expected:N0} bytes of pixel data, more than one array holds");
        var raw = new byte[expected + 1];
        compressed.Position = 0;
        int filled = 0;
        try
        {
            using var z = new ZLibStream(compressed, CompressionMode.Decompress);
            int n;
            while (filled < raw.Length && (n = z.Read(raw, filled, raw.Length - filled)) > 0) filled += n;
        }
        catch (InvalidDataException e) { throw Bad(name, "the compressed pixel data (IDAT) is corrupt: " + e.Message); }
        if (filled != expected)
            throw Bad(name, filled > expected
                ? $"the pixel data inflates to more than the {expected:N0} bytes that {name} needs"
                : $"the pixel data inflates to {filled:N0} bytes where the image needs {expected:N0}");
        return raw;
    }

    static void Unfilter(byte filter, Span<byte> row, ReadOnlySpan<byte> previous, int stride, string name, int y)
    {
        switch (filter)
        {
            case 0: break;
            case 1: for (int i = stride; i < row.Length; i++) row[i] += row[i - stride]; break;
            case 2: for (int i = 0; i < row.Length; i++) row[i] += previous[i]; break;
            case 3:
                for (int i = 0; i < row.Length; i++) row[i] += (byte)(((i >= stride ? row[i - stride] : 0) + previous[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < row.Length; i++)
                {
                    int a = i >= stride ? row[i - stride] : 0, b = previous[i], c = i >= stride ? previous[i - stride] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    row[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                break;
            default: throw Bad(name, $"row {y} has filter type {filter}, not 0..4");
        }
    }

    static int Sample(PngHeader h, ReadOnlySpan<byte> row, int index) => h.BitDepth switch
    {
        8 => row[index],
        16 => BinaryPrimitives.ReadUInt16BigEndian(row[(2 * index)..]),
        _ => (row[index * h.BitDepth / 8] >> (8 - h.BitDepth - index * h.BitDepth % 8)) & ((1 << h.BitDepth) - 1),
    };

    static float GrayAt(PngHeader h, ReadOnlySpan<byte> row, int x, string name)
    {
        float max = (1 << h.BitDepth) - 1;
        int c = h.Channels;
        switch (h.ColorType)
        {
            case 0:
            {
                int v = Sample(h, row, x);
                return h.TransparentKey != null && v == h.TransparentKey[0] ? 0f : v / max;
            }
            case 2:
            {
                int r = Sample(h, row, 3 * x), g = Sample(h, row, 3 * x + 1), b = Sample(h, row, 3 * x + 2);
                if (h.TransparentKey is { } key && r == key[0] && g == key[1] && b == key[2]) return 0f;
                return Luma(r / max, g / max, b / max);
            }
            case 3:
            {
                int i = Sample(h, row, x);
                if (3 * i + 2 >= h.Palette!.Length) throw Bad(name, $"palette index {i} is beyond the {h.Palette.Length / 3} entries of PLTE");
                float alpha = h.PaletteAlpha != null && i < h.PaletteAlpha.Length ? h.PaletteAlpha[i] / 255f : 1f;
                return alpha * Luma(h.Palette[3 * i] / 255f, h.Palette[3 * i + 1] / 255f, h.Palette[3 * i + 2] / 255f);
            }
            case 4: return Sample(h, row, c * x) / max * (Sample(h, row, c * x + 1) / max);
            default:
                return Luma(Sample(h, row, c * x) / max, Sample(h, row, c * x + 1) / max, Sample(h, row, c * x + 2) / max) *
                    (Sample(h, row, c * x + 3) / max);
        }
    }

    static uint[]? s_crcTable;

    // CRC-32 (ISO 3309, reflected polynomial 0xEDB88320) as PNG chunks carry it.
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        var table = s_crcTable ??= MakeCrcTable();
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
