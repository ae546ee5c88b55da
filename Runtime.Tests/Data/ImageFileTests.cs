using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Xunit;

namespace ModelGen.Runtime.Tests.Data;

/// <summary>
/// <see cref="ImageFile"/> against the fixtures in Data/Images, written by <c>make_images.py</c> with PIL and with a
/// PNG writer of its own (every color type and bit depth, Adam7, every row filter); each <c>FILE.f32</c> holds the gray
/// values the Python side computed from the source samples. Tolerance 1e-5: float32 luma against float64.
/// </summary>
public class ImageFileTests
{
    static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Data", "Images");

    public static TheoryData<string> ImageFiles()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(Fixtures).Where(f => !f.EndsWith(".f32", StringComparison.Ordinal) && !f.EndsWith(".py", StringComparison.Ordinal)).OrderBy(f => f))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(ImageFiles))]
    public void ReadsEveryFixtureAsTheGrayValuesPythonComputed(string file)
    {
        var image = ImageFile.ReadGray(Path.Combine(Fixtures, file));
        byte[] raw = File.ReadAllBytes(Path.Combine(Fixtures, file + ".f32"));
        var expected = new float[raw.Length / 4];
        for (int i = 0; i < expected.Length; i++) expected[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(4 * i));
        Assert.Equal(7, image.Width);
        Assert.Equal(5, image.Height);
        Assert.Equal(expected.Length, image.Pixels.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - image.Pixels[i]) <= 1e-5f, $"{file} pixel {i}: read {image.Pixels[i]}, expected {expected[i]}");
    }

    static byte[] Fixture(string file) => File.ReadAllBytes(Path.Combine(Fixtures, file));

    // Rewrites the CRC of the chunk that starts at `offset` so that a deliberate change inside it is the only fault.
    static void FixCrc(byte[] png, int offset)
    {
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(offset + 8 + length), ImageFile.Crc32(png.AsSpan(offset + 4, length + 4)));
    }

    static InvalidDataException Refused(byte[] bytes, string mustContain)
    {
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray(bytes, "test.png"));
        Assert.Contains("test.png", e.Message);
        Assert.Contains(mustContain, e.Message);
        return e;
    }

    [Fact]
    public void RefusesMalformedPngsNamingTheFault()
    {
        byte[] good = Fixture("gray8.png");
        Refused(good[..40], "ends");                                               // truncated inside a chunk

        byte[] crc = (byte[])good.Clone();
        crc[40] ^= 0x55;                                                           // a byte inside IDAT
        Refused(crc, "CRC");

        byte[] colorType = (byte[])good.Clone();
        colorType[8 + 8 + 9] = 5;                                                  // IHDR's color type
        FixCrc(colorType, 8);
        Refused(colorType, "color type 5");

        byte[] depth = (byte[])good.Clone();
        depth[8 + 8 + 8] = 3;                                                      // IHDR's bit depth
        FixCrc(depth, 8);
        Refused(depth, "bit depth 3");

        byte[] huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(16), 1_000_000);        // width and height of a
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(20), 1_000_000);        // terapixel image
        FixCrc(huge, 8);
        Refused(huge, "exceeds the limit");

        byte[] wider = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(wider.AsSpan(16), 8);               // the data is for 7 columns
        FixCrc(wider, 8);
        Refused(wider, "inflates to");

        Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray(new byte[] { 1, 2, 3, 4 }, "x.bin"));
    }

    [Fact]
    public void APngThatInflatesBeyondItsSizeIsRefusedWithoutInflatingIt()
    {
        // A 7 x 5 gray image whose IDAT inflates to 64 MB of zeros: a decompression bomb.
        var zeros = new MemoryStream();
        using (var z = new ZLibStream(zeros, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var block = new byte[1 << 20];
            for (int i = 0; i < 64; i++) z.Write(block);
        }
        byte[] good = Fixture("gray8.png");
        int idat = 8 + 25;                                                         // after the signature and IHDR
        Assert.Equal("IDAT", System.Text.Encoding.ASCII.GetString(good, idat + 4, 4));
        int length = BinaryPrimitives.ReadInt32BigEndian(good.AsSpan(idat));
        var bomb = new MemoryStream();
        bomb.Write(good, 0, idat);
        var chunk = new byte[12 + zeros.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, (int)zeros.Length);
        "IDAT"u8.CopyTo(chunk.AsSpan(4));
        zeros.ToArray().CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + (int)zeros.Length), ImageFile.Crc32(chunk.AsSpan(4, 4 + (int)zeros.Length)));
        bomb.Write(chunk);
        bomb.Write(good, idat + 12 + length, good.Length - idat - 12 - length);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Refused(bomb.ToArray(), "more than");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20, "the reader inflated the bomb instead of stopping at the image's size");
    }

    [Fact]
    public void RefusesMalformedNetpbmFiles()
    {
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray("P5 7 5 255\n\u0001\u0002"u8.ToArray(), "a.pgm")).Message);
        Assert.Contains("above the maximum", Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray("P2 1 1 15 16"u8.ToArray(), "a.pgm")).Message);
        Assert.Contains("maximum value 0", Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray("P2 1 1 0 0"u8.ToArray(), "a.pgm")).Message);
        Assert.Contains("width", Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray("P5 x"u8.ToArray(), "a.pgm")).Message);
        Assert.Contains("exceeds the limit", Assert.Throws<InvalidDataException>(() => ImageFile.ReadGray("P5 100000 100000 255\n"u8.ToArray(), "a.pgm")).Message);
        Assert.Throws<FileNotFoundException>(() => ImageFile.ReadGray("/nonexistent/image.png"));
    }
}
