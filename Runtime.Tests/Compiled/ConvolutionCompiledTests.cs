using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// The generated code of the Convolution family against the eager oracle (same method as CompiledVsEagerTests,
/// whose helpers are private and copied here): small CNNs at odd sizes ((3, 9, 7) images, stride 2, padding,
/// dilation, groups, depthwise and pointwise convolutions, max/average/global pooling, Flatten, Reshape,
/// Transpose, Permute, Concat, Slice), batches 1, 7 and 16, every SIMD path.
/// Tolerance: |compiled - eager| ≤ 2e-4 · (max|eager| + 1e-3) per tensor.
/// </summary>
[Collection(CpuSettingsCollection.Name)] // forces SIMD levels process-wide
public class ConvolutionCompiledTests
{
    const float Tolerance = 2e-4f;

    /// <summary>A model with its eager forward and loss (the user's methods, called directly).</summary>
    public sealed record Case(string Name, Func<ModelBase> Create, Func<ModelBase, Tensor, Tensor> Forward, Func<ModelBase, Tensor, Tensor, Labels, Tensor> Loss);

    static readonly Case[] Cases =
    {
        new("SmallCnn", () => new SmallCnnModel(seed: 11), (m, x) => ((SmallCnnModel)m).Forward(x), (m, y, t, l) => ((SmallCnnModel)m).Loss(y, l)),
        new("GroupedCnn", () => new GroupedCnnModel(seed: 12), (m, x) => ((GroupedCnnModel)m).Forward(x), (m, y, t, l) => ((GroupedCnnModel)m).Loss(y, t)),
        new("Layout", () => new LayoutModel(seed: 13), (m, x) => ((LayoutModel)m).Forward(x), (m, y, t, l) => ((LayoutModel)m).Loss(y, l)),
    };

    public static IEnumerable<object[]> Names() => Cases.Select(c => new object[] { c.Name });

    sealed record Run(float Loss, float[] Output, float[] Gradients, float[] Inferred);

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
        return new Run(loss, output, gradients, inferred);
    }

    static Run Eager(Case c, ModelBase model, Batch b)
    {
        model.Parameters.ZeroGradients();
        var d = model.Description;
        var x = new Tensor(b.Input, new[] { b.Size }.Concat(d.InputShape).ToArray());
        var y = c.Forward(model, x);
        var target = new Tensor(b.Targets.Length > 0 ? b.Targets : new float[y.Length], y.GetShape());
        var loss = c.Loss(model, y, target, new Labels(b.Labels));
        loss.Backward();
        return new Run(loss.Item(), y.ToArray(), model.Parameters.Gradients.ToArray(), y.ToArray());
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
    public void CompiledTrainStepMatchesEagerBackward(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        foreach (int size in new[] { 1, 7, 16 })
        {
            var model = c.Create();
            var batch = MakeBatch(model.Description, size, seed: size);
            var compiled = Compiled(model, batch, capacity: 16);
            var eager = Eager(c, model, batch);
            AssertClose(new[] { eager.Loss }, new[] { compiled.Loss }, $"{name} batch {size} loss");
            AssertClose(eager.Output, compiled.Output, $"{name} batch {size} output");
            AssertClose(eager.Output, compiled.Inferred, $"{name} batch {size} Infer output");
            foreach (var p in model.Parameters)
            {
                var e = eager.Gradients.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                var k = compiled.Gradients.AsSpan(p.Info.Offset, p.Info.Length).ToArray();
                Assert.Contains(e, v => v != 0); // every parameter takes part in these models
                AssertClose(e, k, $"{name} batch {size} gradient of {p.Name}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EverySimdPathGivesTheSameStep(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var model = c.Create();
        var batch = MakeBatch(model.Description, 13, seed: 99);
        Run? reference = null;
        foreach (var level in new[] { SimdLevel.Scalar, SimdLevel.Avx2, SimdLevel.Avx512 })
        {
            if (level > CpuFeatures.Level) continue; // this CPU cannot run the path (the CI machine has AVX-512)
            using var forced = CpuFeatures.Force(level);
            var run = Compiled(model, batch, capacity: 13);
            if (reference == null) { reference = run; continue; }
            AssertClose(reference.Output, run.Output, $"{name} {level} output");
            AssertClose(reference.Gradients, run.Gradients, $"{name} {level} gradients");
            AssertClose(new[] { reference.Loss }, new[] { run.Loss }, $"{name} {level} loss");
        }
        Assert.NotNull(reference);
    }
}
