using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// Compiled vs eager for the Normalization and Losses families (as CompiledVsEagerTests). Models with a training and
/// an inference variant (BatchNorm, Dropout) compare the compiled TrainStep with the eager model in training mode
/// (loss, outputs, every gradient, and the running statistics the step leaves behind) and the compiled Infer with the
/// eager model in evaluation mode after that step. The eager dropout draws the compiled first step's mask (Seed 0,
/// Step 1, the layer's path as salt). Tolerance: |compiled − eager| ≤ 2e-4 · (max|eager| + 1e-3) per tensor.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class NormalizationCompiledTests
{
    const float Tolerance = 2e-4f;

    public sealed record Case(string Name, Func<ModelBase> Create, Func<ModelBase, Tensor, Tensor> Forward, Func<ModelBase, Tensor, Tensor, Labels, Tensor> Loss, int[] Sizes);

    static readonly int[] Usual = { 1, 7, 16 };
    static readonly int[] Batched = { 2, 7, 16 }; // BatchNorm1d in training needs two samples per feature for a variance
    // With two samples BatchNorm1d outputs ±1 whatever its input, so its input gradient is pure rounding noise; a
    // model whose loss depends on that gradient through a residual path starts at three samples.
    static readonly int[] Three = { 3, 7, 16 };

    static readonly Case[] Cases =
    {
        new("BatchNormMlp", () => new BatchNormMlpModel(seed: 3), (m, x) => ((BatchNormMlpModel)m).Forward(x), (m, y, t, l) => ((BatchNormMlpModel)m).Loss(y, l), Batched),
        new("BatchNorm2d", () => new BatchNorm2dModel(seed: 4), (m, x) => ((BatchNorm2dModel)m).Forward(x), (m, y, t, l) => ((BatchNorm2dModel)m).Loss(y, t), Usual),
        new("Dropout", () => new DropoutModel(seed: 5), (m, x) => ((DropoutModel)m).Forward(x), (m, y, t, l) => ((DropoutModel)m).Loss(y, t), Usual),
        new("Bce", () => new BceModel(seed: 6), (m, x) => ((BceModel)m).Forward(x), (m, y, t, l) => ((BceModel)m).Loss(y, t), Usual),
        new("SoftmaxAxis", () => new SoftmaxAxisModel(seed: 7), (m, x) => ((SoftmaxAxisModel)m).Forward(x), (m, y, t, l) => ((SoftmaxAxisModel)m).Loss(y, t), Usual),
        new("NormClassifier", () => new NormClassifierModel(seed: 8), (m, x) => ((NormClassifierModel)m).Forward(x), (m, y, t, l) => ((NormClassifierModel)m).Loss(y, l), Batched),
        new("NormBlocks", () => new NormBlocksModel(seed: 9), (m, x) => ((NormBlocksModel)m).Forward(x), (m, y, t, l) => ((NormBlocksModel)m).Loss(y, t), Three),
    };

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    sealed record Run(float Loss, float[] Output, float[] Gradients, float[] Inferred, float[] ValuesAfter);

    sealed record Batch(float[] Input, int[] Labels, float[] Targets, int Size);

    static Batch MakeBatch(ModelDescription d, int size, int seed)
    {
        var rng = new Random(seed);
        int inLength = d.InputShape.Aggregate(1, (a, b) => a * b), outLength = d.OutputShape.Aggregate(1, (a, b) => a * b);
        var input = new float[size * inLength];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 2 - 1);
        var labels = d.Target == TargetKind.Labels ? Enumerable.Range(0, size).Select(_ => rng.Next(outLength)).ToArray() : Array.Empty<int>();
        var targets = new float[d.Target == TargetKind.Tensor ? size * outLength : 0];
        for (int i = 0; i < targets.Length; i++) targets[i] = (float)(rng.NextDouble() * 2 - 1);
        return new Batch(input, labels, targets, size);
    }

    static Run Compiled(ModelBase model, Batch b, int capacity)
    {
        int outLength = model.Description.OutputShape.Aggregate(1, (a, c) => a * c);
        var program = model.CreateProgram(capacity);
        var output = new float[b.Size * outLength];
        float loss = program.TrainStep(b.Input, b.Labels, b.Targets, b.Size, output);
        var gradients = model.Parameters.Gradients.ToArray();
        var inferred = new float[b.Size * outLength];
        program.Infer(b.Input, b.Size, inferred);
        return new Run(loss, output, gradients, inferred, model.Parameters.Values.ToArray());
    }

    static Run Eager(Case c, ModelBase model, Batch b)
    {
        model.Parameters.ZeroGradients();
        var d = model.Description;
        var x = new Tensor(b.Input, new[] { b.Size }.Concat(d.InputShape).ToArray());
        model.Train();
        var y = c.Forward(model, x);
        var target = new Tensor(b.Targets.Length > 0 ? b.Targets : new float[y.Length], y.GetShape());
        var loss = c.Loss(model, y, target, new Labels(b.Labels));
        loss.Backward();
        var values = model.Parameters.Values.ToArray();
        model.Eval();
        float[] inferred;
        using (Tensor.NoGrad()) inferred = c.Forward(model, x).ToArray();
        model.Train();
        return new Run(loss.Item(), y.ToArray(), model.Parameters.Gradients.ToArray(), inferred, values);
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Select(Math.Abs).DefaultIfEmpty(0).Max() + 1e-3f;
        for (int i = 0; i < expected.Length; i++)
        {
            float diff = Math.Abs(expected[i] - actual[i]);
            if (!(diff <= Tolerance * scale))
                Assert.Fail($"{what}[{i}]: expected {expected[i]}, got {actual[i]} (|diff| {diff} > {Tolerance} x scale {scale})");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void CompiledTrainStepAndInferMatchEager(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        foreach (int size in c.Sizes)
        {
            var model = c.Create();
            var before = model.Parameters.Values.ToArray();
            var batch = MakeBatch(model.Description, size, seed: size);
            var compiled = Compiled(model, batch, capacity: 16);
            before.CopyTo(model.Parameters.Values); // the eager step starts from the same parameters and running statistics
            var eager = Eager(c, model, batch);
            AssertClose(new[] { eager.Loss }, new[] { compiled.Loss }, $"{name} batch {size} loss");
            AssertClose(eager.Output, compiled.Output, $"{name} batch {size} output");
            AssertClose(eager.Inferred, compiled.Inferred, $"{name} batch {size} Infer output");
            foreach (var p in model.Parameters)
            {
                if (p.Info.Trainable)
                {
                    var e = eager.Gradients.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    var k = compiled.Gradients.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    Assert.Contains(e, v => v != 0);
                    AssertClose(e, k, $"{name} batch {size} gradient of {p.Name}");
                }
                else
                {
                    var e = eager.ValuesAfter.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    var k = compiled.ValuesAfter.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                    Assert.NotEqual(before.AsSpan(p.Info.Offset, p.Info.Length).ToArray(), k); // the step updated the state
                    AssertClose(e, k, $"{name} batch {size} state {p.Name}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var probe = c.Create();
        var batch = MakeBatch(probe.Description, 13, seed: 99);
        Run? reference = null;
        foreach (var level in new[] { SimdLevel.Scalar, SimdLevel.Avx2, SimdLevel.Avx512 })
        {
            if (level > CpuFeatures.Level) continue;
            using var forced = CpuFeatures.Force(level);
            var run = Compiled(c.Create(), batch, capacity: 13);
            if (reference == null) { reference = run; continue; }
            AssertClose(reference.Output, run.Output, $"{name} {level} output");
            AssertClose(reference.Inferred, run.Inferred, $"{name} {level} Infer output");
            AssertClose(reference.Gradients, run.Gradients, $"{name} {level} gradients");
            AssertClose(reference.ValuesAfter, run.ValuesAfter, $"{name} {level} parameters and state");
            AssertClose(new[] { reference.Loss }, new[] { run.Loss }, $"{name} {level} loss");
        }
        Assert.NotNull(reference);
    }
}
