using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Xunit;

namespace ModelGen.Runtime.Tests.Data;

public class IdxTests
{
    static byte[] Pattern(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 7 + 3)).ToArray();

    [Theory]
    [InlineData(false, "plain.idx")]
    [InlineData(true, "zipped.idx.gz")]
    [InlineData(true, "zipped-without-suffix.idx")] // detected by the 1f 8b magic
    public void UnsignedBytesRoundTrip(bool gzip, string name)
    {
        using var dir = new TempDirectory();
        string path = dir.File(name);
        var data = Pattern(3 * 4 * 5);
        Idx.Write(path, new[] { 3, 4, 5 }, data, gzip);

        byte[] raw = File.ReadAllBytes(path);
        Assert.Equal(gzip, raw[0] == 0x1f && raw[1] == 0x8b);

        var file = Idx.Read(path);
        Assert.Equal(IdxDataType.UnsignedByte, file.DataType);
        Assert.Equal(new[] { 3, 4, 5 }, file.GetDimensions());
        Assert.Equal(60, file.Length);
        Assert.Equal(data, file.Bytes);
        Assert.Null(file.Floats);
        Assert.Equal(data.Select(b => b / 2f).ToArray(), file.ToFloatArray(2f));
    }

    [Fact]
    public void PlainFileHasTheDocumentedLayout()
    {
        using var dir = new TempDirectory();
        string path = dir.File("layout.idx");
        Idx.Write(path, new[] { 2, 258 }, Pattern(516));
        byte[] raw = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 1, 2 }, raw.Take(12).ToArray());
        Assert.Equal(12 + 516, raw.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FloatsRoundTrip(bool gzip)
    {
        using var dir = new TempDirectory();
        string path = dir.File(gzip ? "f.idx.gz" : "f.idx");
        var data = new[] { 0f, -1.5f, 3.25e7f, float.Epsilon, 1f / 3f, -0f };
        Idx.Write(path, new[] { 6 }, data, gzip);
        var file = Idx.Read(path);
        Assert.Equal(IdxDataType.Single, file.DataType);
        Assert.Equal(new[] { 6 }, file.GetDimensions());
        Assert.Equal(data, file.Floats);
        Assert.Null(file.Bytes);
    }

    [Fact]
    public void OtherTypesAreDecodedBigEndian()
    {
        using var dir = new TempDirectory();
        // sbyte: -2, 5
        string s8 = dir.File("s8.idx");
        File.WriteAllBytes(s8, new byte[] { 0, 0, 0x09, 1, 0, 0, 0, 2, 0xFE, 0x05 });
        Assert.Equal(new[] { -2f, 5f }, Idx.Read(s8).Floats);
        // int16: -300, 258
        string s16 = dir.File("s16.idx");
        File.WriteAllBytes(s16, new byte[] { 0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFE, 0xD4, 0x01, 0x02 });
        Assert.Equal(new[] { -300f, 258f }, Idx.Read(s16).Floats);
        // int32: 65536 + 2
        string s32 = dir.File("s32.idx");
        File.WriteAllBytes(s32, new byte[] { 0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 1, 0, 2 });
        Assert.Equal(new[] { 65538f }, Idx.Read(s32).Floats);
        // double: 0.5 = 3FE0000000000000
        string f64 = dir.File("f64.idx");
        File.WriteAllBytes(f64, new byte[] { 0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3F, 0xE0, 0, 0, 0, 0, 0, 0 });
        Assert.Equal(new[] { 0.5f }, Idx.Read(f64).Floats);
    }

    static InvalidDataException ReadBad(TempDirectory dir, string name, byte[] content, bool gzip = false)
    {
        string path = dir.File(name);
        if (gzip)
        {
            using var f = File.Create(path);
            using var z = new GZipStream(f, CompressionLevel.Fastest);
            z.Write(content);
        }
        else File.WriteAllBytes(path, content);
        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BadMagicIsRejected(bool gzip)
    {
        using var dir = new TempDirectory();
        var e = ReadBad(dir, "magic.idx", new byte[] { 0x50, 0x4B, 0x08, 1, 0, 0, 0, 1, 9 }, gzip);
        Assert.Contains("bad IDX magic number 0x504b0801", e.Message);
    }

    [Fact]
    public void UnknownElementTypeIsRejected()
    {
        using var dir = new TempDirectory();
        var e = ReadBad(dir, "type.idx", new byte[] { 0, 0, 0x0A, 1, 0, 0, 0, 1, 9 });
        Assert.Contains("unknown IDX element type 0x0a", e.Message);
    }

    [Fact]
    public void ZeroDimensionsAreRejected()
    {
        using var dir = new TempDirectory();
        var e = ReadBad(dir, "rank0.idx", new byte[] { 0, 0, 0x08, 0 });
        Assert.Contains("zero dimensions", e.Message);
    }

    [Fact]
    public void ShortFileIsRejected()
    {
        using var dir = new TempDirectory();
        var e = ReadBad(dir, "short.idx", new byte[] { 0, 0 });
        Assert.Contains("too short for an IDX header", e.Message);
        e = ReadBad(dir, "header.idx", new byte[] { 0, 0, 0x08, 3, 0, 0, 0, 1, 0, 0 });
        Assert.Contains("truncated IDX header", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedDataIsRejected(bool gzip)
    {
        using var dir = new TempDirectory();
        // (2, 3) ubyte needs 6 bytes; 4 are there.
        var e = ReadBad(dir, "trunc.idx", new byte[] { 0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4 }, gzip);
        Assert.Contains("truncated IDX data", e.Message);
        Assert.Contains("need 6 bytes, the file has 4", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DimensionsLyingAboutSizeAreRejected(bool gzip)
    {
        using var dir = new TempDirectory();
        // Claims 60000 x 280 x 280 float64 (> 2^31 bytes) with 3 bytes of data: refused before any allocation.
        var e = ReadBad(dir, "huge.idx", new byte[] { 0, 0, 0x0E, 3, 0, 0, 0xEA, 0x60, 0, 0, 0x01, 0x18, 0, 0, 0x01, 0x18, 1, 2, 3 }, gzip);
        Assert.Contains("need more than", e.Message);
        Assert.Contains("header is corrupt", e.Message);
        // Int32 overflow of the product: 65536 x 65536.
        e = ReadBad(dir, "overflow.idx", new byte[] { 0, 0, 0x08, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1 }, gzip);
        Assert.Contains("header is corrupt", e.Message);
        // Negative dimension.
        e = ReadBad(dir, "negative.idx", new byte[] { 0, 0, 0x08, 1, 0xFF, 0xFF, 0xFF, 0xFF }, gzip);
        Assert.Contains("dimension 0 is negative (-1)", e.Message);
        // A plausible size that the file does not hold: 1000 x 1000 ubyte with 2 bytes.
        // Gzipped, no gzip file of its size can hold a million bytes: refused before inflating.
        e = ReadBad(dir, "lie.idx", new byte[] { 0, 0, 0x08, 2, 0, 0, 0x03, 0xE8, 0, 0, 0x03, 0xE8, 7, 7 }, gzip);
        Assert.Contains(gzip ? "imply 1000012 bytes, more than a gzip file of" : "need 1000000 bytes, the file has 2", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrailingBytesAreRejected(bool gzip)
    {
        using var dir = new TempDirectory();
        var e = ReadBad(dir, "trail.idx", new byte[] { 0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3, 4, 5 }, gzip);
        Assert.Contains(gzip ? "trailing bytes after the IDX data: the gzip stream inflates to more than the 10 bytes" : "3 trailing bytes after the IDX data", e.Message);
    }

    static byte[] Gzip(byte[] content)
    {
        var packed = new MemoryStream();
        using (var z = new GZipStream(packed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(content);
        return packed.ToArray();
    }

    [Fact]
    public void GzipIsInflatedNoFurtherThanTheHeaderImplies()
    {
        using var dir = new TempDirectory();
        // (2) ubyte, then 16 MB of zeros more, in a gzip member followed by a second member whose deflate data is
        // invalid (block type 11): a reader that inflated the trailing data to its end would fail on the second member.
        var content = new byte[8 + 2 + (16 << 20)];
        new byte[] { 0, 0, 0x08, 1, 0, 0, 0, 2 }.CopyTo(content, 0);
        var corrupt = new byte[] { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0xff, 0xff, 0xff };
        string path = dir.File("bomb.idx.gz");
        File.WriteAllBytes(path, Gzip(content).Concat(corrupt).ToArray());
        Assert.True(new FileInfo(path).Length < 64 << 10);
        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("inflates to more than the 10 bytes that the dimensions (2) of UnsignedByte imply", e.Message);
    }

    /// <summary>Reads <paramref name="path"/>: the file or the error, and the bytes that allocated on this thread.</summary>
    static (IdxFile? File, InvalidDataException? Error, long Allocated) ReadCounting(string path)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            var file = Idx.Read(path);
            return (file, null, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        catch (InvalidDataException e)
        {
            return (null, e, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void GzipWhoseHeaderClaimsMoreThanItCanHoldIsRefusedBeforeAllocating()
    {
        using var dir = new TempDirectory();
        // 100,000 x 1,000 ubyte (100 MB) claimed by a gzip file of a few dozen bytes.
        string path = dir.File("claims.idx.gz");
        File.WriteAllBytes(path, Gzip(new byte[] { 0, 0, 0x08, 2, 0, 1, 0x86, 0xA0, 0, 0, 0x03, 0xE8, 1, 2, 3 }));
        var (_, e, allocated) = ReadCounting(path);
        Assert.Contains("imply 100000012 bytes, more than a gzip file of", e!.Message);
        Assert.True(allocated < 1 << 20, $"{allocated} bytes allocated");
    }

    [Fact]
    public void GzipWhoseTrailerConfirmsTheHeaderIsReadIntoOneBuffer()
    {
        using var dir = new TempDirectory();
        var data = Pattern(24 << 20);   // 24 MB: growing a buffer by doubling would allocate 1 + 2 + ... + 16 + 24 MB
        string path = dir.File("honest.idx.gz");
        Idx.Write(path, new[] { 24, 1 << 20 }, data, gzip: true);
        var (file, _, allocated) = ReadCounting(path);
        Assert.Equal(data, file!.Bytes);
        Assert.True(allocated < 25 << 20, $"{allocated} bytes allocated for 24 MB of data");
    }

    [Fact]
    public void TruncatedGzipCostsMemoryInProportionToItsData()
    {
        using var dir = new TempDirectory();
        // Claims 500 MB of ubyte; holds 2 MB of incompressible bytes (so the gzip could hold 500 MB by its size).
        var content = new byte[12 + (2 << 20)];
        new byte[] { 0, 0, 0x08, 2, 0, 0, 0x01, 0xF4, 0, 0x0F, 0x42, 0x40 }.CopyTo(content, 0);   // 500 x 1,000,000
        new Random(1).NextBytes(content.AsSpan(12));
        string path = dir.File("truncated.idx.gz");
        File.WriteAllBytes(path, Gzip(content));
        var (_, e, allocated) = ReadCounting(path);
        Assert.Contains("need 500000000 bytes, the file has 2097152", e!.Message);
        Assert.True(allocated < 16 << 20, $"{allocated} bytes allocated for 2 MB of data");
    }

    [Fact]
    public void CorruptGzipNamesTheFile()
    {
        using var dir = new TempDirectory();
        var e = ReadBad(dir, "corrupt.gz", new byte[] { 0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF });
        Assert.Contains("not a valid gzip file", e.Message);
    }

    [Fact]
    public void MissingFileThrowsFileNotFound()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => Idx.Read(dir.File("absent.idx")));
    }

    [Fact]
    public void WriterChecksDimensionsAgainstData()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<ArgumentException>(() => Idx.Write(dir.File("x.idx"), new[] { 2, 3 }, new byte[5]));
        Assert.Contains("hold 6 elements but the data has 5", e.Message);
        Assert.Throws<ArgumentException>(() => Idx.Write(dir.File("y.idx"), Array.Empty<int>(), new byte[1]));
    }

    [Fact]
    public void BytesToFloatsMatchesScalarDivisionAtEveryLength()
    {
        var source = Enumerable.Range(0, 300).Select(i => (byte)(i * 37)).ToArray();
        for (int n = 0; n <= source.Length; n += 13)
        {
            var destination = new float[n];
            Idx.BytesToFloats(source.AsSpan(0, n), destination, 255f);
            for (int i = 0; i < n; i++) Assert.Equal(source[i] / 255f, destination[i]);
        }
    }
}
