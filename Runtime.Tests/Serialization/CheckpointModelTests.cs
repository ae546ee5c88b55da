using System;
using System.IO;
using ModelGen.Runtime.Tests.Data;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Serialization;

/// <summary>Two models whose parameters have the same names and shapes: only the class tells their checkpoints apart.</summary>
[Model]
public partial class TwinRelu
{
    readonly Linear hidden = new(4, 3);

    [Forward] public Tensor Forward([Shape(4)] Tensor x) => Relu(hidden.Forward(x));

    [Loss] public Tensor Loss(Tensor y, Labels labels) => SoftmaxCrossEntropy(y, labels);
}

/// <inheritdoc cref="TwinRelu"/>
[Model]
public partial class TwinTanh
{
    readonly Linear hidden = new(4, 3);

    [Forward] public Tensor Forward([Shape(4)] Tensor x) => Tanh(hidden.Forward(x));

    [Loss] public Tensor Loss(Tensor y, Labels labels) => SoftmaxCrossEntropy(y, labels);
}

/// <summary>Load checks the model class recorded in the checkpoint (metadata <c>modelgen.model</c>).</summary>
public sealed class CheckpointModelTests : IDisposable
{
    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_refuses_a_checkpoint_of_another_model_naming_both_and_changes_nothing()
    {
        string path = _dir.File("relu.safetensors");
        new TwinRelu(seed: 1).Save(path);
        var other = new TwinTanh(seed: 2);
        float[] before = other.Parameters.Values.ToArray();
        var e = Assert.Throws<CheckpointException>(() => other.Load(path));
        Assert.Contains("'TwinRelu'", e.Message);
        Assert.Contains("'TwinTanh'", e.Message);
        Assert.Contains("allowOtherModel", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Equal(before, other.Parameters.Values.ToArray());
    }

    [Fact]
    public void Load_with_allowOtherModel_loads_matching_names_and_shapes()
    {
        string path = _dir.File("relu.safetensors");
        var saved = new TwinRelu(seed: 1);
        saved.Save(path);
        var other = new TwinTanh(seed: 2);
        other.Load(path, allowOtherModel: true);
        Assert.Equal(saved.Parameters.Values.ToArray(), other.Parameters.Values.ToArray());
    }

    [Fact]
    public void Resumable_load_refuses_another_model_too_unless_allowed()
    {
        string path = _dir.File("relu-sgd.safetensors");
        var saved = new TwinRelu(seed: 1);
        saved.Save(path, new Sgd(0.1f, momentum: 0.9f));
        var other = new TwinTanh(seed: 2);
        float[] before = other.Parameters.Values.ToArray();
        var e = Assert.Throws<CheckpointException>(() => other.Load(path, new Sgd(0.1f, momentum: 0.9f)));
        Assert.Contains("'TwinRelu', not of 'TwinTanh'", e.Message);
        Assert.Equal(before, other.Parameters.Values.ToArray());
        other.Load(path, new Sgd(0.1f, momentum: 0.9f), allowOtherModel: true);
        Assert.Equal(saved.Parameters.Values.ToArray(), other.Parameters.Values.ToArray());
    }

    [Fact]
    public void A_file_that_names_no_model_loads_by_names_and_shapes()
    {
        string path = _dir.File("plain.safetensors");
        var source = new TwinRelu(seed: 1);
        SafeTensors.Save(path, source.Parameters);   // as PyTorch would write it: no modelgen.model
        var other = new TwinTanh(seed: 2);
        other.Load(path);
        Assert.Equal(source.Parameters.Values.ToArray(), other.Parameters.Values.ToArray());
    }

    [Fact]
    public void The_same_model_loads_its_own_checkpoint()
    {
        string path = _dir.File("relu.safetensors");
        var saved = new TwinRelu(seed: 1);
        saved.Save(path);
        var again = new TwinRelu(seed: 2);
        again.Load(path);
        Assert.Equal(saved.Parameters.Values.ToArray(), again.Parameters.Values.ToArray());
        Assert.Equal("TwinRelu", SafeTensors.ReadMetadata(path)[SafeTensors.ModelKey]);
    }
}
