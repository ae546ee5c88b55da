using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Numerics;

namespace ModelGen;

/// <summary>The element type of an IDX file (the third byte of its magic number).</summary>
public enum IdxDataType : byte
{
    /// <summary>Unsigned byte (0x08), the type of MNIST-family images and labels.</summary>
    UnsignedByte = 0x08,
    /// <summary>Signed byte (0x09).</summary>
    SignedByte = 0x09,
    /// <summary>Big-endian 16-bit integer (0x0B).</summary>
    Int16 = 0x0B,
    /// <summary>Big-endian 32-bit integer (0x0C).</summary>
    Int32 = 0x0C,
    /// <summary>Big-endian 32-bit float (0x0D).</summary>
    Single = 0x0D,
    /// <summary>Big-endian 64-bit float (0x0E).</summary>
    Double = 0x0E,
}

/// <summary>
/// The contents of one IDX file: its dimensions, its element type and its elements in row-major order.
/// Unsigned-byte files keep their bytes as they are (<see cref="Bytes"/>); every other type is converted to
/// float (<see cref="Floats"/>): 32-bit integers above 2^24 and doubles lose precision in that conversion.
/// </summary>
public sealed class IdxFile
{
    internal IdxFile(string source, IdxDataType dataType, int[] dimensions, byte[]? bytes, float[]? floats)
    {
        Source = source;
        DataType = dataType;
        _dimensions = dimensions;
        Bytes = bytes;
        Floats = floats;
        Length = bytes?.Length ?? floats!.Length;
    }

    readonly int[] _dimensions;

    /// <summary>The file the data came from (for messages).</summary>
    public string Source { get; }

    /// <summary>The element type stored in the file.</summary>
    public IdxDataType DataType { get; }

    /// <summary>The dimensions, outermost first (e.g. 60000, 28, 28 for MNIST training images).</summary>
    public ReadOnlySpan<int> Dimensions => _dimensions;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _dimensions.Length;

    /// <summary>The number of elements (the product of the dimensions).</summary>
    public int Length { get; }

    /// <summary>The elements when <see cref="DataType"/> is <see cref="IdxDataType.UnsignedByte"/>, else null.</summary>
    public byte[]? Bytes { get; }

    /// <summary>The elements converted to float for every other <see cref="DataType"/>, else null.</summary>
    public float[]? Floats { get; }

    /// <summary>Returns a copy of the dimensions.</summary>
    public int[] GetDimensions() => (int[])_dimensions.Clone();

    /// <summary>
    /// The elements as floats, each divided by <paramref name="divisor"/> (a new array), whatever the stored type;
    /// e.g. <c>ToFloatArray(255)</c> maps pixel bytes to [0, 1].
    /// </summary>
    public float[] ToFloatArray(float divisor = 1f)
    {
        var result = new float[Length];
        if (Bytes != null) Idx.BytesToFloats(Bytes, result, divisor);
        else
            for (int i = 0; i < result.Length; i++) result[i] = Floats![i] / divisor;
        return result;
    }
}

/// <summary>
/// Reads and writes IDX files, the format of MNIST and Fashion-MNIST: a magic number (two zero bytes, an element
/// type byte, a dimension count byte), each dimension as a big-endian int32, then the elements, big-endian,
/// row-major. Gzipped files (a <c>.gz</c> name or the 1f 8b gzip magic) are decompressed transparently.
/// </summary>
public static class Idx
{
    // Reading a gzipped file whose gzip trailer does not confirm the header's size, the buffer starts at this size and
    // doubles as data arrives, so a header that claims gigabytes costs memory in proportion to the data actually there.
    const int InitialGzipBuffer = 1 << 20;

    // Deflate encodes at most 258 bytes in 2 bits: no gzip file inflates to more than 1032 times its size.
    const long MaxDeflateRatio = 1032;

    /// <summary>
    /// Reads the IDX file at <paramref name="path"/>, gunzipping it when its name ends in <c>.gz</c> or it starts
    /// with the gzip magic. Throws <see cref="InvalidDataException"/> naming the file when the magic is wrong, the
    /// element type unknown, there are no dimensions, the dimensions overflow or promise more data than the file
    /// holds, or bytes follow the data; <see cref="FileNotFoundException"/> when there is no such file. A gzipped file
    /// is inflated no further than its header's dimensions imply (plus one byte, to notice trailing data), and a
    /// header that implies more than its compressed size can hold is refused before anything is inflated.
    /// </summary>
    public static IdxFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> probe = stackalloc byte[2];
        int probed = file.ReadAtLeast(probe, 2, throwOnEndOfStream: false);
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || (probed == 2 && probe[0] == 0x1f && probe[1] == 0x8b);
        file.Position = 0;
        if (!gzip) return Parse(file, path, file.Length, packed: null);
        // The last 4 bytes of a gzip file are its inflated size modulo 2^32 (of the last member, when there are several).
        uint inflatedSize = 0;
        if (file.Length >= 18)
        {
            Span<byte> trailer = stackalloc byte[4];
            file.Position = file.Length - 4;
            file.ReadExactly(trailer);
            inflatedSize = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            file.Position = 0;
        }
        using var unzip = new GZipStream(file, CompressionMode.Decompress);
        try
        {
            return Parse(unzip, path, knownLength: null, packed: (file.Length, inflatedSize));
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // GZipStream's own complaint (corrupt deflate data, bad gzip header) does not name the file.
            throw new InvalidDataException($"{path}: not a valid gzip file ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Writes an unsigned-byte IDX file with the given dimensions; gzipped when <paramref name="gzip"/> is true.
    /// The write is atomic; a path that exists and is not a regular file is refused with an <see cref="IOException"/>.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<int> dimensions, ReadOnlySpan<byte> data, bool gzip = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckWrite(dimensions, data.Length);
        var content = new byte[4 + 4 * dimensions.Length + data.Length];
        int header = WriteHeader(content, IdxDataType.UnsignedByte, dimensions);
        data.CopyTo(content.AsSpan(header));
        WriteFile(path, content, gzip);
    }

    /// <summary>
    /// Writes a float32 IDX file (element type 0x0D, big-endian) with the given dimensions; gzipped when
    /// <paramref name="gzip"/> is true. The write is atomic, as for bytes.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<int> dimensions, ReadOnlySpan<float> data, bool gzip = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckWrite(dimensions, data.Length);
        var content = new byte[4 + 4 * dimensions.Length + 4L * data.Length];
        int header = WriteHeader(content, IdxDataType.Single, dimensions);
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleBigEndian(content.AsSpan(header + 4 * i), data[i]);
        WriteFile(path, content, gzip);
    }

    static void CheckWrite(ReadOnlySpan<int> dimensions, int dataLength)
    {
        if (dimensions.Length is 0 or > 255)
            throw new ArgumentException($"An IDX file has 1 to 255 dimensions, not {dimensions.Length}.", nameof(dimensions));
        long product = 1;
        foreach (int d in dimensions)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in {Tensor.FormatShape(dimensions)}.", nameof(dimensions));
            product *= d;
            if (product > int.MaxValue) throw new ArgumentException($"Dimensions {Tensor.FormatShape(dimensions)} hold more than {int.MaxValue} elements.", nameof(dimensions));
        }
        if (product != dataLength)
            throw new ArgumentException($"Dimensions {Tensor.FormatShape(dimensions)} hold {product} elements but the data has {dataLength}.", nameof(dimensions));
    }

    /// <summary>Writes the file atomically (<see cref="AtomicFile"/>): readers see the old file or the whole new one.</summary>
    static void WriteFile(string path, byte[] content, bool gzip) => AtomicFile.Write(path, file =>
    {
        if (gzip)
        {
            using var zip = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
            zip.Write(content);
        }
        else file.Write(content);
    });

    static int WriteHeader(Span<byte> header, IdxDataType type, ReadOnlySpan<int> dimensions)
    {
        header[0] = 0;
        header[1] = 0;
        header[2] = (byte)type;
        header[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.Slice(4 + 4 * i), dimensions[i]);
        return 4 + 4 * dimensions.Length;
    }

    /// <summary>
    /// Parses an IDX stream; <paramref name="knownLength"/> is its size when known (plain files),
    /// <paramref name="packed"/> the size of the gzip file it is inflated from and the inflated size its trailer states.
    /// </summary>
    static IdxFile Parse(Stream stream, string source, long? knownLength, (long Length, uint InflatedSize)? packed)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4)
            throw new InvalidDataException($"{source}: {got} bytes is too short for an IDX header (4-byte magic number).");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidDataException($"{source}: bad IDX magic number 0x{magic[0]:x2}{magic[1]:x2}{magic[2]:x2}{magic[3]:x2}; an IDX file starts with two zero bytes.");
        var type = (IdxDataType)magic[2];
        int size = ElementSize(type);
        if (size == 0)
            throw new InvalidDataException($"{source}: unknown IDX element type 0x{magic[2]:x2} (known: 0x08 ubyte, 0x09 sbyte, 0x0b short, 0x0c int, 0x0d float, 0x0e double).");
        int rank = magic[3];
        if (rank == 0)
            throw new InvalidDataException($"{source}: the IDX header declares zero dimensions.");

        Span<byte> dimBytes = stackalloc byte[4 * 255];
        dimBytes = dimBytes.Slice(0, 4 * rank);
        got = stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false);
        if (got < dimBytes.Length)
            throw new InvalidDataException($"{source}: truncated IDX header: {rank} dimensions need {dimBytes.Length} bytes after the magic number, the file has {got}.");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.Slice(4 * i));
            if (dims[i] < 0)
                throw new InvalidDataException($"{source}: IDX dimension {i} is negative ({dims[i]}).");
            count *= dims[i]; // at most (Array.MaxLength / size) * int.MaxValue: no long overflow
            if (count > Array.MaxLength / size)
                throw new InvalidDataException($"{source}: IDX dimensions {Tensor.FormatShape(dims.AsSpan(0, i + 1))}{(i + 1 < rank ? "..." : "")} need more than {Array.MaxLength} bytes of data; the header is corrupt.");
        }
        long dataBytes = count * size;
        long headerBytes = 4 + 4L * rank;
        if (knownLength is long length && length != headerBytes + dataBytes)
            throw new InvalidDataException(length < headerBytes + dataBytes
                ? $"{source}: truncated IDX data: dimensions {Tensor.FormatShape(dims)} of {type} need {dataBytes} bytes, the file has {length - headerBytes}."
                : $"{source}: {length - headerBytes - dataBytes} trailing bytes after the IDX data of dimensions {Tensor.FormatShape(dims)} of {type}.");
        if (packed is { } gz && headerBytes + dataBytes > MaxDeflateRatio * gz.Length)
            throw new InvalidDataException(
                $"{source}: the IDX header's dimensions {Tensor.FormatShape(dims)} of {type} imply {headerBytes + dataBytes} bytes, more than a gzip file of {gz.Length} bytes can inflate to ({MaxDeflateRatio} times its size): the header is corrupt or the data truncated.");

        // All at once when the size is known or the gzip trailer agrees with the header, else as the data arrives.
        bool sizeKnown = packed is not { } g || g.InflatedSize == (uint)(headerBytes + dataBytes);
        byte[] raw = ReadData(stream, source, (int)dataBytes, dims, type, sizeKnown);
        // Inflate one byte more than the header implies, and no further: a stream that goes on is refused as it is.
        if (knownLength is null && stream.ReadByte() >= 0)
            throw new InvalidDataException(
                $"{source}: trailing bytes after the IDX data: the gzip stream inflates to more than the {headerBytes + dataBytes} bytes that the dimensions {Tensor.FormatShape(dims)} of {type} imply (it was not inflated further).");
        return type == IdxDataType.UnsignedByte
            ? new IdxFile(source, type, dims, raw, null)
            : new IdxFile(source, type, dims, null, Decode(raw, type, (int)count));
    }

    static byte[] ReadData(Stream stream, string source, int dataBytes, int[] dims, IdxDataType type, bool sizeKnown)
    {
        var buffer = new byte[sizeKnown ? dataBytes : Math.Min(dataBytes, InitialGzipBuffer)];
        int filled = 0;
        while (filled < dataBytes)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, (int)Math.Min(dataBytes, 2L * buffer.Length));
            int n = stream.Read(buffer, filled, buffer.Length - filled);
            if (n == 0)
                throw new InvalidDataException($"{source}: truncated IDX data: dimensions {Tensor.FormatShape(dims)} of {type} need {dataBytes} bytes, the file has {filled}.");
            filled += n;
        }
        return buffer;
    }

    static int ElementSize(IdxDataType type) => type switch
    {
        IdxDataType.UnsignedByte or IdxDataType.SignedByte => 1,
        IdxDataType.Int16 => 2,
        IdxDataType.Int32 or IdxDataType.Single => 4,
        IdxDataType.Double => 8,
        _ => 0,
    };

    static float[] Decode(byte[] raw, IdxDataType type, int count)
    {
        var result = new float[count];
        ReadOnlySpan<byte> s = raw;
        switch (type)
        {
            case IdxDataType.SignedByte:
                for (int i = 0; i < count; i++) result[i] = (sbyte)s[i];
                break;
            case IdxDataType.Int16:
                for (int i = 0; i < count; i++) result[i] = BinaryPrimitives.ReadInt16BigEndian(s.Slice(2 * i));
                break;
            case IdxDataType.Int32:
                for (int i = 0; i < count; i++) result[i] = BinaryPrimitives.ReadInt32BigEndian(s.Slice(4 * i));
                break;
            case IdxDataType.Single:
                for (int i = 0; i < count; i++) result[i] = BinaryPrimitives.ReadSingleBigEndian(s.Slice(4 * i));
                break;
            case IdxDataType.Double:
                for (int i = 0; i < count; i++) result[i] = (float)BinaryPrimitives.ReadDoubleBigEndian(s.Slice(8 * i));
                break;
            default:
                throw new InvalidDataException($"IDX element type {type} has no float conversion.");
        }
        return result;
    }

    /// <summary>
    /// <paramref name="destination"/>[i] = <paramref name="source"/>[i] / <paramref name="divisor"/>, in one pass
    /// (8 or 16 bytes at a time where the CPU has SIMD).
    /// </summary>
    internal static void BytesToFloats(ReadOnlySpan<byte> source, Span<float> destination, float divisor)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        int i = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= Vector<byte>.Count)
        {
            var vdivisor = new Vector<float>(divisor);
            int step = Vector<byte>.Count;
            int floatsPerVector = Vector<float>.Count;
            for (; i <= source.Length - step; i += step)
            {
                var bytes = new Vector<byte>(source.Slice(i));
                Vector.Widen(bytes, out var lo16, out var hi16);
                Vector.Widen(lo16, out var a, out var b);
                Vector.Widen(hi16, out var c, out var d);
                var dst = destination.Slice(i);
                (Vector.ConvertToSingle(Vector.AsVectorInt32(a)) / vdivisor).CopyTo(dst);
                (Vector.ConvertToSingle(Vector.AsVectorInt32(b)) / vdivisor).CopyTo(dst.Slice(floatsPerVector));
                (Vector.ConvertToSingle(Vector.AsVectorInt32(c)) / vdivisor).CopyTo(dst.Slice(2 * floatsPerVector));
                (Vector.ConvertToSingle(Vector.AsVectorInt32(d)) / vdivisor).CopyTo(dst.Slice(3 * floatsPerVector));
            }
        }
        for (; i < source.Length; i++) destination[i] = source[i] / divisor;
    }
}
