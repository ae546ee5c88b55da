using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace ModelGen;

/// <summary>
/// Checkpoints in the safetensors format, readable by the PyTorch ecosystem: an 8-byte little-endian header length
/// <c>N</c>, <c>N</c> bytes of UTF-8 JSON (<c>{"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},
/// "__metadata__":{..}}</c>, padded with spaces to a multiple of 8), then the data buffer, little-endian, each
/// tensor at its offsets relative to the start of the buffer. Writing is atomic, also with several writers on one
/// path (<see cref="AtomicFile"/>: a temporary file of its own, flushed to disk, then renamed over the target; a target
/// that is not a regular file is refused); reading checks the whole file and its match with the model before changing
/// anything, and a hostile or damaged file is a <see cref="CheckpointException"/> that says what is wrong.
/// The JSON is written and read by hand (<see cref="Utf8JsonReader"/>), so this is safe under NativeAOT.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest header accepted when reading, in bytes (100 MB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    const string MetadataKey = "__metadata__";

    /// <summary>The metadata key under which a model's <c>Save</c> records the model class name.</summary>
    internal const string ModelKey = "modelgen.model";

    /// <summary>Writes every parameter of <paramref name="store"/> to <paramref name="path"/>, atomically.</summary>
    /// <param name="path">
    /// The file to write; an existing file is replaced only once the new one is complete on disk. A path that exists
    /// and is not a regular file (a directory, a device, a FIFO) is refused with an <see cref="IOException"/>.
    /// </param>
    /// <param name="store">The parameters, written in arena order under their path names.</param>
    /// <param name="metadata">Optional string pairs for the header's <c>__metadata__</c>.</param>
    public static void Save(string path, ParameterStore store, IReadOnlyDictionary<string, string>? metadata = null)
        => Save(path, store, metadata, extras: null, afterHeader: null);

    /// <summary>As <see cref="Save(string, ParameterStore, IReadOnlyDictionary{string, string}?)"/>; tests inject a failure after the header.</summary>
    internal static void Save(string path, ParameterStore store, IReadOnlyDictionary<string, string>? metadata, Action? afterHeader)
        => Save(path, store, metadata, extras: null, afterHeader);

    /// <summary>
    /// Writes the parameters, then <paramref name="extras"/> (flat F32 tensors such as optimizer state, after the
    /// parameters in the data buffer), atomically.
    /// </summary>
    internal static void Save(string path, ParameterStore store, IReadOnlyDictionary<string, string>? metadata,
        IReadOnlyList<(string Name, float[] Values)>? extras, Action? afterHeader)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(store);
        extras ??= Array.Empty<(string, float[])>();
        byte[] header = BuildHeader(store, metadata, extras);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            afterHeader?.Invoke();
            for (int i = 0; i < store.Count; i++) WriteFloats(stream, store[i].Value.Data);
            foreach (var (_, values) in extras) WriteFloats(stream, values);
        });
    }

    /// <summary>
    /// Reads <paramref name="path"/> into <paramref name="store"/>. The whole file is validated first — header, offsets,
    /// dtypes, and every name and shape against the model — and all problems are reported together in one
    /// <see cref="CheckpointException"/>; the values are copied in only when everything matches, so a bad file never
    /// changes the model.
    /// </summary>
    public static void Load(string path, ParameterStore store) => Load(path, store, optimizer: null, model: null);

    /// <summary>
    /// Reads the parameters and, when <paramref name="optimizer"/> is given, its state (the <c>optimizer.*</c> tensors
    /// and the <c>modelgen.optimizer*</c> metadata). Everything (file, model match, optimizer type, hyperparameters,
    /// state tensors) is checked before anything changes; then the parameters and the optimizer are both updated.
    /// Without an optimizer, optimizer tensors in the file are ignored. With <paramref name="model"/>, a file whose
    /// <c>modelgen.model</c> metadata names another model class is refused (a file without that key, such as one
    /// written by PyTorch, is not).
    /// </summary>
    internal static void Load(string path, ParameterStore store, Optimizer? optimizer, string? model)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(store);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var header = ReadHeader(stream, path);
        var problems = header.Problems;
        if (model != null && header.Metadata.TryGetValue(ModelKey, out string? saved) && saved != model)
            problems.Add($"it holds the parameters of model '{saved}', not of '{model}' (names and shapes can match by chance); pass allowOtherModel: true to Load to load it anyway.");
        var byName = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        foreach (var e in header.Entries) byName.TryAdd(e.Name, e);
        for (int i = 0; i < store.Count; i++)
        {
            var info = store[i].Info;
            if (!byName.TryGetValue(info.Name, out var e))
                problems.Add($"missing tensor '{info.Name}': the model expects shape {Tensor.FormatShape(info.Shape)}.");
            else if (!info.Shape.AsSpan().SequenceEqual(e.Shape))
                problems.Add($"tensor '{info.Name}' has shape {Tensor.FormatShape(e.Shape)} in the file but {Tensor.FormatShape(info.Shape)} in the model.");
        }
        int step = 0;
        float learningRate = 0;
        var stateNames = new HashSet<string>(StringComparer.Ordinal);
        if (optimizer != null)
        {
            problems.AddRange(optimizer.CheckImport(header.Metadata, store, out step, out learningRate));
            if (header.Metadata.ContainsKey(Optimizer.MetadataPrefix))
                foreach (string name in optimizer.StateTensorNames())
                {
                    stateNames.Add(name);
                    if (!byName.TryGetValue(name, out var e))
                        problems.Add($"missing optimizer state tensor '{name}': the {optimizer.GetType().Name} expects shape ({store.TrainableLength}).");
                    else if (e.Shape.Length != 1 || e.Shape[0] != store.TrainableLength)
                        problems.Add($"optimizer state tensor '{name}' has shape {Tensor.FormatShape(e.Shape)} in the file but the model trains {store.TrainableLength} floats, so it must be ({store.TrainableLength}).");
                }
        }
        foreach (var e in header.Entries)
        {
            if (store.Contains(e.Name) || stateNames.Contains(e.Name)) continue;
            if (e.Name.StartsWith(Optimizer.StatePrefix, StringComparison.Ordinal))
            {
                if (optimizer != null && stateNames.Count > 0)
                    problems.Add($"unexpected optimizer state tensor '{e.Name}' {Tensor.FormatShape(e.Shape)}: the {optimizer.GetType().Name} has no state of that name.");
                continue;   // a plain Load ignores optimizer state
            }
            problems.Add($"unexpected tensor '{e.Name}' {Tensor.FormatShape(e.Shape)}: the model has no parameter of that name.");
        }
        if (problems.Count > 0) throw new CheckpointException(path, problems);

        // Stage the values, then commit them in one copy: an I/O error half way leaves the model as it was.
        float[] staged = store.Values.ToArray();
        var buffers = new Dictionary<string, float[]>(StringComparer.Ordinal);
        try
        {
            for (int i = 0; i < store.Count; i++)
            {
                var info = store[i].Info;
                var e = byName[info.Name];
                stream.Seek(header.DataStart + e.DataBegin, SeekOrigin.Begin);
                var target = staged.AsSpan(info.Offset, info.Length);
                ReadFloats(stream, target);
            }
            foreach (string name in stateNames)
            {
                var e = byName[name];
                stream.Seek(header.DataStart + e.DataBegin, SeekOrigin.Begin);
                var values = new float[store.TrainableLength];
                ReadFloats(stream, values);
                buffers[name] = values;
            }
        }
        catch (EndOfStreamException ex)
        {
            throw new CheckpointException(path, new[] { "the file ended while its tensors were being read (it changed or was truncated during loading)." }, ex);
        }
        staged.AsSpan().CopyTo(store.Values);
        optimizer?.ImportState(store, step, learningRate, buffers);
    }

    static void ReadFloats(Stream stream, Span<float> target)
    {
        stream.ReadExactly(MemoryMarshal.AsBytes(target));
        if (!BitConverter.IsLittleEndian)
            for (int k = 0; k < target.Length; k++)
                target[k] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReverseEndianness(BitConverter.SingleToInt32Bits(target[k])));
    }

    /// <summary>Reads and validates the header of <paramref name="path"/> and lists its tensors in file order.</summary>
    public static IReadOnlyList<TensorEntry> ReadHeader(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        var header = ReadHeader(stream, path);
        if (header.Problems.Count > 0) throw new CheckpointException(path, header.Problems);
        return header.Entries;
    }

    /// <summary>Reads and validates the header of <paramref name="path"/> and returns its <c>__metadata__</c> (empty when absent).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        var header = ReadHeader(stream, path);
        if (header.Problems.Count > 0) throw new CheckpointException(path, header.Problems);
        return header.Metadata;
    }

    // ---- writing ------------------------------------------------------------------------------------------------

    static byte[] BuildHeader(ParameterStore store, IReadOnlyDictionary<string, string>? metadata, IReadOnlyList<(string Name, float[] Values)> extras)
    {
        var json = new StringBuilder();
        json.Append('{');
        bool first = true;
        if (metadata != null && metadata.Count > 0)
        {
            json.Append('"').Append(MetadataKey).Append("\":{");
            bool firstPair = true;
            foreach (var pair in metadata)
            {
                if (!firstPair) json.Append(',');
                firstPair = false;
                AppendString(json, pair.Key);
                json.Append(':');
                AppendString(json, pair.Value);
            }
            json.Append('}');
            first = false;
        }
        long offset = 0;
        for (int i = 0; i < store.Count; i++)
        {
            var info = store[i].Info;
            if (info.Name == MetadataKey) throw new ArgumentException($"A parameter cannot be named '{MetadataKey}'.", nameof(store));
            if (!first) json.Append(',');
            first = false;
            AppendString(json, info.Name);
            json.Append(":{\"dtype\":\"F32\",\"shape\":[");
            for (int d = 0; d < info.Shape.Length; d++)
            {
                if (d > 0) json.Append(',');
                json.Append(info.Shape[d].ToString(CultureInfo.InvariantCulture));
            }
            long end = offset + 4L * info.Length;
            json.Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(end.ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset = end;
        }
        foreach (var (name, values) in extras)
        {
            if (name == MetadataKey || store.Contains(name))
                throw new ArgumentException($"The extra tensor '{name}' has the name of the metadata or of a parameter.", nameof(extras));
            if (!first) json.Append(',');
            first = false;
            AppendString(json, name);
            long end = offset + 4L * values.Length;
            json.Append(":{\"dtype\":\"F32\",\"shape\":[").Append(values.Length.ToString(CultureInfo.InvariantCulture))
                .Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(end.ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset = end;
        }
        json.Append('}');
        int length = Encoding.UTF8.GetByteCount(json.ToString());
        int padded = (length + 7) & ~7;
        var bytes = new byte[padded];
        Encoding.UTF8.GetBytes(json.ToString(), bytes);
        bytes.AsSpan(length).Fill((byte)' ');
        return bytes;
    }

    static void AppendString(StringBuilder json, string value)
    {
        json.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                default:
                    if (c < 0x20) json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else json.Append(c);
                    break;
            }
        }
        json.Append('"');
    }

    static void WriteFloats(Stream stream, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
            return;
        }
        Span<byte> chunk = stackalloc byte[4096];
        int i = 0;
        while (i < values.Length)
        {
            int n = Math.Min(values.Length - i, chunk.Length / 4);
            for (int k = 0; k < n; k++) BinaryPrimitives.WriteSingleLittleEndian(chunk.Slice(4 * k), values[i + k]);
            stream.Write(chunk.Slice(0, 4 * n));
            i += n;
        }
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    sealed class Header
    {
        public readonly List<TensorEntry> Entries = new();
        public readonly Dictionary<string, string> Metadata = new(StringComparer.Ordinal);
        public readonly List<string> Problems = new();
        public long DataStart;
        public long BufferLength;
    }

    /// <summary>
    /// Reads the header. A file whose structure cannot be read at all throws at once; problems with single tensors
    /// (dtype, sizes, offsets, overlaps, gaps) are collected so the caller can add its own and report them together.
    /// </summary>
    static Header ReadHeader(FileStream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw Fail(path, $"the file is {fileLength} bytes, too short for the 8-byte header length that starts a safetensors file.");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw Fail(path, $"the header length field says {headerLength} bytes but only {fileLength - 8} bytes follow it: the file is truncated or not a safetensors file.");
        if (headerLength > MaxHeaderBytes)
            throw Fail(path, $"the header length {headerLength} bytes exceeds the limit of {MaxHeaderBytes} bytes (100 MB).");
        if (headerLength < 2)
            throw Fail(path, $"the header length {headerLength} bytes is too short for a JSON object.");
        var json = new byte[(int)headerLength];
        stream.ReadExactly(json);

        var header = new Header { DataStart = 8 + (long)headerLength, BufferLength = fileLength - 8 - (long)headerLength };
        try
        {
            Parse(json, header);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException(path, new[] { $"the header is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}): {ex.Message}" }, ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new CheckpointException(path, new[] { $"the header is not valid UTF-8 JSON: {ex.Message}" }, ex);
        }
        catch (FormatException ex)
        {
            throw new CheckpointException(path, new[] { "the header " + ex.Message }, ex);
        }
        CheckLayout(header);
        return header;
    }

    static CheckpointException Fail(string path, string problem) => new(path, new[] { problem });

    static void Parse(ReadOnlySpan<byte> json, Header header)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new FormatException("is not a JSON object.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string name = reader.GetString()!;
            if (!seen.Add(name)) throw new FormatException($"names '{name}' twice.");
            if (name == MetadataKey)
            {
                Expect(ref reader, JsonTokenType.StartObject, "__metadata__ must be an object of strings");
                while (true)
                {
                    Next(ref reader);
                    if (reader.TokenType == JsonTokenType.EndObject) break;
                    string key = reader.GetString()!;
                    Expect(ref reader, JsonTokenType.String, $"__metadata__ value of '{key}' must be a string");
                    if (!header.Metadata.TryAdd(key, reader.GetString()!)) throw new FormatException($"names the __metadata__ key '{key}' twice.");
                }
                continue;
            }
            header.Entries.Add(ParseEntry(ref reader, name));
        }
        if (reader.Read()) throw new FormatException("has content after its JSON object.");
    }

    static TensorEntry ParseEntry(ref Utf8JsonReader reader, string name)
    {
        Expect(ref reader, JsonTokenType.StartObject, $"entry of tensor '{name}' must be an object");
        string? dtype = null;
        List<int>? shape = null;
        long begin = -1, end = -1;
        var fields = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref reader);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string key = reader.GetString()!;
            if (!fields.Add(key)) throw new FormatException($"gives tensor '{name}' the field '{key}' twice.");
            switch (key)
            {
                case "dtype":
                    Expect(ref reader, JsonTokenType.String, $"dtype of tensor '{name}' must be a string");
                    dtype = reader.GetString();
                    break;
                case "shape":
                    Expect(ref reader, JsonTokenType.StartArray, $"shape of tensor '{name}' must be an array");
                    shape = new List<int>();
                    while (true)
                    {
                        Next(ref reader);
                        if (reader.TokenType == JsonTokenType.EndArray) break;
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long d) || d < 0 || d > int.MaxValue)
                            throw new FormatException($"gives tensor '{name}' a dimension that is not an integer in 0..{int.MaxValue}.");
                        shape.Add((int)d);
                    }
                    break;
                case "data_offsets":
                    Expect(ref reader, JsonTokenType.StartArray, $"data_offsets of tensor '{name}' must be an array");
                    begin = ReadOffset(ref reader, name);
                    end = ReadOffset(ref reader, name);
                    Expect(ref reader, JsonTokenType.EndArray, $"data_offsets of tensor '{name}' must hold exactly two numbers");
                    break;
                default:
                    throw new FormatException($"gives tensor '{name}' an unknown field '{key}'.");
            }
        }
        if (dtype == null || shape == null || begin < 0)
            throw new FormatException($"entry of tensor '{name}' lacks {(dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets")}.");
        return new TensorEntry(name, dtype, shape.ToArray(), begin, end);
    }

    static long ReadOffset(ref Utf8JsonReader reader, string name)
    {
        Next(ref reader);
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
            throw new FormatException($"gives tensor '{name}' a data offset that is not a non-negative integer.");
        return v;
    }

    static void Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new FormatException("ends before its JSON object is closed.");
    }

    static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string what)
    {
        Next(ref reader);
        if (reader.TokenType != type) throw new FormatException($"is malformed: {what} (found {reader.TokenType}).");
    }

    /// <summary>The bytes of an F32 tensor of <paramref name="shape"/> (checked arithmetic), or -1 when that overflows a long.</summary>
    static long ByteCount(int[] shape)
    {
        if (Array.IndexOf(shape, 0) >= 0) return 0;
        long bytes = 4;
        try
        {
            foreach (int d in shape) bytes = checked(bytes * d);
        }
        catch (OverflowException)
        {
            return -1;
        }
        return bytes;
    }

    static void CheckLayout(Header header)
    {
        var problems = header.Problems;
        var placed = new List<TensorEntry>(header.Entries.Count);
        foreach (var e in header.Entries)
        {
            bool ok = true;
            if (e.DType != "F32")
            {
                problems.Add($"tensor '{e.Name}' has dtype {e.DType}; ModelGen checkpoints hold F32 only.");
                ok = false;
            }
            long bytes = ByteCount(e.Shape);
            if (bytes < 0)
            {
                problems.Add($"tensor '{e.Name}' has shape {Tensor.FormatShape(e.Shape)}, whose size in bytes does not fit in 64 bits.");
                ok = false;
            }
            if (e.DataEnd < e.DataBegin)
            {
                problems.Add($"tensor '{e.Name}' has data_offsets [{e.DataBegin}, {e.DataEnd}) that end before they begin.");
                continue;
            }
            if (e.DataEnd > header.BufferLength)
            {
                problems.Add($"tensor '{e.Name}' has data [{e.DataBegin}, {e.DataEnd}) outside the data buffer of {header.BufferLength} bytes (the file is truncated or its offsets are wrong).");
                continue;
            }
            if (ok && e.DataEnd - e.DataBegin != bytes)
                problems.Add($"tensor '{e.Name}' of shape {Tensor.FormatShape(e.Shape)} needs {bytes} bytes but its data_offsets [{e.DataBegin}, {e.DataEnd}) span {e.DataEnd - e.DataBegin}.");
            placed.Add(e);
        }
        placed.Sort((a, b) => a.DataBegin != b.DataBegin ? a.DataBegin.CompareTo(b.DataBegin) : a.DataEnd.CompareTo(b.DataEnd));
        long covered = 0;
        TensorEntry? previous = null;
        foreach (var e in placed)
        {
            if (e.DataBegin < covered)
                problems.Add($"tensors '{previous!.Name}' [{previous.DataBegin}, {previous.DataEnd}) and '{e.Name}' [{e.DataBegin}, {e.DataEnd}) overlap.");
            else if (e.DataBegin > covered)
                problems.Add($"bytes [{covered}, {e.DataBegin}) of the data buffer belong to no tensor.");
            if (e.DataEnd >= covered)
            {
                covered = e.DataEnd;
                previous = e;
            }
        }
        if (placed.Count == header.Entries.Count && covered != header.BufferLength)
            problems.Add($"the data buffer holds {header.BufferLength} bytes but the tensors cover {covered}: the file has trailing bytes.");
    }
}
