using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Serialization;

public sealed class SafeTensorsTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "mg-st-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    string PathOf(string name) => Path.Combine(_dir, name);

    string[] Temporaries() => Directory.GetFiles(_dir, "*.tmp", new EnumerationOptions { AttributesToSkip = 0 });

    // hidden.weight (2,3) at 0, hidden.bias (3) at 16: 9 floats, 36 bytes of data.
    static ParameterStore Store(int seed = 1) => new(new[]
    {
        new ParameterInfo("hidden.weight", new[] { 2, 3 }, 0, Init.HeUniform),
        new ParameterInfo("hidden.bias", new[] { 3 }, 16, Init.HeUniform),
    }, seed);

    // GoodJson without its opening brace, to follow a __metadata__ entry.
    const string GoodJson0 =
        "\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," +
        "\"hidden.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";

    const string GoodJson =
        "{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," +
        "\"hidden.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";

    static byte[] File(string json, int bufferBytes, ulong? lyingLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + bufferBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lyingLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (int i = 0; i < bufferBytes; i++) bytes[8 + header.Length + i] = (byte)(i * 7);
        return bytes;
    }

    CheckpointException LoadFails(byte[] bytes, ParameterStore? store = null)
    {
        string path = PathOf("bad.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        store ??= Store();
        float[] before = store.Values.ToArray();
        var ex = Assert.Throws<CheckpointException>(() => SafeTensors.Load(path, store));
        Assert.Equal(before, store.Values.ToArray());   // a bad file never changes the model
        Assert.Contains(path, ex.Message);
        return ex;
    }

    [Fact]
    public void Round_trip_is_bit_exact_and_the_header_is_what_the_format_says()
    {
        var a = Store(1);
        a.Values[5] = float.Epsilon;          // a denormal and a negative zero survive
        a.Values[16] = -0f;
        string path = PathOf("model.safetensors");
        SafeTensors.Save(path, a, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "a \"quoted\" value" });
        var b = Store(2);
        Assert.NotEqual(a.Values.ToArray(), b.Values.ToArray());
        SafeTensors.Load(path, b);
        Assert.Equal(a.Values.ToArray(), b.Values.ToArray());
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(b.Values[16]));

        byte[] bytes = System.IO.File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        Assert.Equal(8 + (long)n + 36, bytes.Length);
        var entries = SafeTensors.ReadHeader(path);
        Assert.Equal(2, entries.Count);
        Assert.Equal("hidden.weight", entries[0].Name);
        Assert.Equal(new[] { 2, 3 }, entries[0].Shape);
        Assert.Equal((0L, 24L), (entries[0].DataBegin, entries[0].DataEnd));
        Assert.Equal((24L, 36L), (entries[1].DataBegin, entries[1].DataEnd));
        Assert.Equal("F32", entries[1].DType);
        var meta = SafeTensors.ReadMetadata(path);
        Assert.Equal("a \"quoted\" value", meta["note"]);
        Assert.Empty(Temporaries());
    }

    [Fact]
    public void A_hand_made_file_with_metadata_and_padding_loads()
    {
        string json = "{\"__metadata__\":{\"format\":\"pt\"}," + GoodJson.Substring(1) + "   ";
        string path = PathOf("hand.safetensors");
        System.IO.File.WriteAllBytes(path, File(json, 36));
        var s = Store();
        SafeTensors.Load(path, s);
        Assert.Equal(BitConverter.ToSingle(File(json, 36), 8 + Encoding.UTF8.GetByteCount(json)), s.Values[0]);
    }

    [Fact]
    public void Truncated_buffer_is_named()
    {
        var ex = LoadFails(File(GoodJson, 30));
        Assert.Contains("hidden.bias", ex.Message);
        Assert.Contains("outside the data buffer of 30 bytes", ex.Message);
    }

    [Fact]
    public void Header_length_larger_than_the_file()
    {
        var ex = LoadFails(File(GoodJson, 36, lyingLength: 5000));
        Assert.Contains("header length field says 5000 bytes", ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Huge_header_length()
    {
        var ex = LoadFails(File(GoodJson, 36, lyingLength: 1UL << 62));
        Assert.Contains("4611686018427387904", ex.Message);
    }

    [Fact]
    public void Header_over_100_MB_is_refused_even_when_the_file_is_that_long()
    {
        string path = PathOf("sparse.safetensors");
        using (var fs = new FileStream(path, FileMode.Create))
        {
            var len = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, 101UL * 1024 * 1024);
            fs.Write(len);
            fs.SetLength(8 + 102L * 1024 * 1024);   // sparse where the file system allows
        }
        var ex = Assert.Throws<CheckpointException>(() => SafeTensors.Load(path, Store()));
        Assert.Contains("exceeds the limit", ex.Message);
    }

    [Fact]
    public void Too_short_a_file()
    {
        var ex = LoadFails(new byte[] { 1, 2, 3 });
        Assert.Contains("too short", ex.Message);
    }

    [Theory]
    [InlineData("{\"hidden.weight\":{\"dtype\":\"F32\",", "not valid JSON")]
    [InlineData("[1,2,3]", "not a JSON object")]
    [InlineData("{} {}", "not valid JSON")]
    [InlineData("{\"a\":1}", "entry of tensor 'a' must be an object")]
    [InlineData("{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", "lacks data_offsets")]
    [InlineData("{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[-2,3],\"data_offsets\":[0,24]}}", "dimension")]
    [InlineData("{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],\"x\":1}}", "unknown field 'x'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "names 'w' twice")]
    [InlineData("{\"__metadata__\":{\"modelgen.model\":\"A\",\"modelgen.model\":\"B\"}," + GoodJson0, "names the __metadata__ key 'modelgen.model' twice")]
    [InlineData("{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"shape\":[2,3],\"data_offsets\":[0,24]},\"hidden.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}", "gives tensor 'hidden.weight' the field 'shape' twice")]
    [InlineData("{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\"hidden.bias\":{\"dtype\":\"F16\",\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}", "gives tensor 'hidden.bias' the field 'dtype' twice")]
    public void Invalid_json_is_a_clear_error(string json, string expected)
    {
        var ex = LoadFails(File(json, 36));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Wrong_dtype_is_named()
    {
        var ex = LoadFails(File(GoodJson.Replace("\"F32\",\"shape\":[3]", "\"F16\",\"shape\":[3]"), 36));
        Assert.Contains("tensor 'hidden.bias' has dtype F16", ex.Message);
    }

    [Fact]
    public void Overlapping_offsets_are_named()
    {
        string json = "{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," +
                      "\"hidden.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[20,32]}}";
        var ex = LoadFails(File(json, 36));
        Assert.Contains("'hidden.weight' [0, 24) and 'hidden.bias' [20, 32) overlap", ex.Message);
    }

    [Fact]
    public void Out_of_range_and_inconsistent_offsets_are_named()
    {
        string json = "{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}," +
                      "\"hidden.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,1000]}}";
        var ex = LoadFails(File(json, 36));
        Assert.Contains("'hidden.weight' of shape (2, 3) needs 24 bytes", ex.Message);
        Assert.Contains("'hidden.bias' has data [24, 1000) outside the data buffer of 36 bytes", ex.Message);
        Assert.True(ex.Problems.Count >= 2);
    }

    [Fact]
    public void Trailing_bytes_are_reported()
    {
        var ex = LoadFails(File(GoodJson, 40));
        Assert.Contains("holds 40 bytes but the tensors cover 36", ex.Message);
    }

    [Fact]
    public void Missing_extra_and_wrong_shape_tensors_are_all_named_in_one_message()
    {
        string json = "{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}," +
                      "\"hidden.scale\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}";
        var ex = LoadFails(File(json, 36));
        Assert.Equal(3, ex.Problems.Count);
        Assert.Contains("missing tensor 'hidden.bias': the model expects shape (3)", ex.Message);
        Assert.Contains("unexpected tensor 'hidden.scale' (3)", ex.Message);
        Assert.Contains("tensor 'hidden.weight' has shape (3, 2) in the file but (2, 3) in the model", ex.Message);
    }

    [Fact]
    public void Missing_tensor_alone()
    {
        string json = "{\"hidden.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
        var ex = LoadFails(File(json, 24));
        Assert.Single(ex.Problems);
        Assert.Contains("missing tensor 'hidden.bias'", ex.Message);
    }

    [Fact]
    public void Extra_tensor_alone()
    {
        string json = GoodJson.TrimEnd('}') + "},\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}";
        var ex = LoadFails(File(json, 40));
        Assert.Single(ex.Problems);
        Assert.Contains("unexpected tensor 'extra'", ex.Message);
    }

    [Fact]
    public void Wrong_shape_alone()
    {
        var ex = LoadFails(File(GoodJson.Replace("[2,3]", "[6]"), 36));
        Assert.Single(ex.Problems);
        Assert.Contains("tensor 'hidden.weight' has shape (6) in the file but (2, 3) in the model", ex.Message);
    }

    [Fact]
    public void A_failed_save_leaves_the_old_file_intact()
    {
        string path = PathOf("keep.safetensors");
        SafeTensors.Save(path, Store(1));
        byte[] good = System.IO.File.ReadAllBytes(path);
        var ex = Assert.Throws<IOException>(() =>
            SafeTensors.Save(path, Store(2), null, afterHeader: () => throw new IOException("disk full (injected)")));
        Assert.Contains("injected", ex.Message);
        Assert.Equal(good, System.IO.File.ReadAllBytes(path));
        Assert.Empty(Temporaries());
        var s = Store(3);
        SafeTensors.Load(path, s);
        Assert.Equal(Store(1).Values.ToArray(), s.Values.ToArray());
    }

    [Theory]
    [InlineData("[1073741824,1073741824,1073741824,1073741824,16]", 0, 0)]   // 2^124 elements: 4 * 2^124 wraps to 0 in 64 bits
    [InlineData("[2147483647,2147483647,2147483647]", 0, 4)]
    public void A_shape_whose_byte_size_overflows_is_refused(string shape, long begin, long end)
    {
        string json = "{\"huge\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}}";
        string path = PathOf("huge.safetensors");
        System.IO.File.WriteAllBytes(path, File(json, (int)end));
        var ex = Assert.Throws<CheckpointException>(() => SafeTensors.ReadHeader(path));
        Assert.Contains("tensor 'huge' has shape", ex.Message);
        Assert.Contains("does not fit in 64 bits", ex.Message);
    }

    [Fact]
    public void An_empty_tensor_takes_no_bytes()
    {
        string json = "{\"empty\":{\"dtype\":\"F32\",\"shape\":[1073741824,0,1073741824,1073741824],\"data_offsets\":[0,0]}}";
        string path = PathOf("empty.safetensors");
        System.IO.File.WriteAllBytes(path, File(json, 0));
        var entry = Assert.Single(SafeTensors.ReadHeader(path));
        Assert.Equal(0, entry.DataEnd);
    }
}
