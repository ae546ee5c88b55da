using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ModelGen.Runtime.Tests.Data;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Training;

/// <summary>A small MLP with dropout, so a resumed run must also continue the random state of training steps.</summary>
[Model]
public partial class ResumeFashionMlp
{
    readonly Linear hidden = new(784, 64);
    readonly Dropout drop = new(0.2);
    readonly Linear output = new(64, 10);

    [Forward] public Tensor Forward([Shape(784)] Tensor image) => output.Forward(drop.Forward(Relu(hidden.Forward(image))));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>
/// DESIGN test strategy item 4: resuming from a checkpoint continues the same loss curve. On 3,000 real
/// Fashion-MNIST images, four epochs straight and two epochs + Save(path, optimizer) + a new model and optimizer +
/// Load(path, optimizer) + Fit(initialEpoch: 2) give the same per-epoch losses and final parameters, bit for bit
/// (tolerance: exact). Plus the failure cases: another optimizer or hyperparameter, a truncated file, old files.
/// </summary>
public sealed class ResumeTests : IDisposable
{
    const int Batch = 64, Epochs = 4, Seed = 3, InitSeed = 5;

    static readonly Lazy<Dataset> Train = new(() =>
    {
        var train = FashionMnist.Load().Train.Take(3000);
        var (mean, std) = train.FeatureStatistics();
        train.Standardize(mean, std);
        return train;
    });

    static AdamW NewAdamW(float weightDecay = 0.01f, int epochs = Epochs) =>
        new(2e-3f, weightDecay: weightDecay) { Schedule = new CosineDecay(CosineDecay.StepsFor(Train.Value.Count, Batch, epochs)) };

    /// <summary>The uninterrupted run: its history and final parameters.</summary>
    static readonly Lazy<(History History, float[] Parameters)> Straight = new(() =>
    {
        var model = new ResumeFashionMlp(seed: InitSeed);
        var history = model.Fit(Train.Value, epochs: Epochs, batchSize: Batch, optimizer: NewAdamW(), seed: Seed, verbose: false);
        return (history, model.Parameters.Values.ToArray());
    });

    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++) bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        return bits;
    }

    static void AssertContinuesStraightRun(History resumed, ResumeFashionMlp model)
    {
        var straight = Straight.Value;
        Assert.Equal(2, resumed.Count);
        for (int e = 0; e < 2; e++)
        {
            Assert.Equal(e + 3, resumed[e].Epoch);
            Assert.Equal(straight.History[e + 2].Epoch, resumed[e].Epoch);
            // Exact: the same double, not merely close.
            Assert.Equal(BitConverter.DoubleToInt64Bits(straight.History[e + 2].TrainLoss), BitConverter.DoubleToInt64Bits(resumed[e].TrainLoss));
            Assert.Equal(straight.History[e + 2].TrainAccuracy, resumed[e].TrainAccuracy);
        }
        Assert.Equal(Bits(straight.Parameters), Bits(model.Parameters.Values));
    }

    [Fact]
    public void ResumedRunRepeatsTheStraightRunBitForBit()
    {
        string path = _dir.File("epoch2.safetensors");
        var first = new ResumeFashionMlp(seed: InitSeed);
        var firstOptimizer = NewAdamW();
        var firstHistory = first.Fit(Train.Value, epochs: 2, batchSize: Batch, optimizer: firstOptimizer, seed: Seed, verbose: false);
        for (int e = 0; e < 2; e++) Assert.Equal(Straight.Value.History[e].TrainLoss, firstHistory[e].TrainLoss);
        first.Save(path, firstOptimizer);

        var model = new ResumeFashionMlp(seed: 99);   // other initial parameters: Load replaces them all
        var optimizer = NewAdamW();
        model.Load(path, optimizer);
        Assert.Equal(firstOptimizer.StepCount, optimizer.StepCount);
        var resumed = model.Fit(Train.Value, epochs: Epochs, batchSize: Batch, optimizer: optimizer, seed: Seed, verbose: false, initialEpoch: 2);
        AssertContinuesStraightRun(resumed, model);
        Assert.Equal(firstOptimizer.StepCount * 2, optimizer.StepCount);
    }

    [Fact]
    public void ModelCheckpointWritesResumableFiles()
    {
        var first = new ResumeFashionMlp(seed: InitSeed);
        var checkpoint = new ModelCheckpoint(_dir.File("ckpt-{epoch}.safetensors"));
        first.Fit(Train.Value, epochs: 2, batchSize: Batch, optimizer: NewAdamW(), seed: Seed, callbacks: new Callback[] { checkpoint }, verbose: false);
        Assert.Equal(2, checkpoint.LastSavedEpoch);
        Assert.True(SafeTensors.ReadMetadata(_dir.File("ckpt-1.safetensors")).ContainsKey("modelgen.optimizer"));

        var model = new ResumeFashionMlp(seed: 99);
        var optimizer = NewAdamW();
        model.Load(checkpoint.LastSavedPath!, optimizer);
        var resumed = model.Fit(Train.Value, epochs: Epochs, batchSize: Batch, optimizer: optimizer, seed: Seed, verbose: false,
            initialEpoch: checkpoint.LastSavedEpoch);
        AssertContinuesStraightRun(resumed, model);
    }

    [Fact]
    public void WithoutTheOptimizerStateTheRunDiverges()
    {
        // The control that shows the exact test has teeth: parameters alone do not continue the curve.
        string path = _dir.File("params-only.safetensors");
        var first = new ResumeFashionMlp(seed: InitSeed);
        first.Fit(Train.Value, epochs: 2, batchSize: Batch, optimizer: NewAdamW(), seed: Seed, verbose: false);
        first.Save(path);
        var model = new ResumeFashionMlp(seed: 99);
        model.Load(path);
        var resumed = model.Fit(Train.Value, epochs: Epochs, batchSize: Batch, optimizer: NewAdamW(), seed: Seed, verbose: false, initialEpoch: 2);
        Assert.NotEqual(Straight.Value.History[2].TrainLoss, resumed[0].TrainLoss);
    }

    [Fact]
    public void ResumableFileHoldsTheOptimizerStateReadably()
    {
        string path = _dir.File("state.safetensors");
        var model = new ResumeFashionMlp(seed: 1);
        var optimizer = NewAdamW();
        model.Fit(Train.Value.Take(256), epochs: 1, batchSize: Batch, optimizer: optimizer, seed: 1, verbose: false);
        model.Save(path, optimizer);
        var entries = SafeTensors.ReadHeader(path).ToDictionary(e => e.Name);
        Assert.Equal(new[] { model.Parameters.TrainableLength }, entries["optimizer.m"].Shape);
        Assert.Equal(new[] { model.Parameters.TrainableLength }, entries["optimizer.v"].Shape);
        var meta = SafeTensors.ReadMetadata(path);
        Assert.Equal("AdamW", meta["modelgen.optimizer"]);
        Assert.Equal("4", meta["modelgen.optimizer.step"]);
        Assert.Equal("0.002", meta["modelgen.optimizer.learning_rate"]);
        Assert.Equal("0.01", meta["modelgen.optimizer.hp.weight_decay"]);
        Assert.StartsWith("CosineDecay(totalSteps=188", meta["modelgen.optimizer.schedule"]);
        Assert.Equal("ResumeFashionMlp", meta["modelgen.model"]);

        // A plain Load ignores the optimizer tensors and reads the parameters.
        var plain = new ResumeFashionMlp(seed: 2);
        plain.Load(path);
        Assert.Equal(Bits(model.Parameters.Values), Bits(plain.Parameters.Values));
    }

    /// <summary>A model and optimizer with state of their own, and a snapshot to show that a failed load changed neither.</summary>
    sealed class Target
    {
        public readonly ResumeFashionMlp Model = new(seed: 11);
        public readonly Optimizer Optimizer;
        readonly int[] _parameters;
        readonly int _step;
        readonly double _lr;
        readonly List<int[]> _state;

        public Target(Optimizer optimizer)
        {
            Optimizer = optimizer;
            Model.Fit(Train.Value.Take(128), epochs: 1, batchSize: Batch, optimizer: optimizer, seed: 9, verbose: false);
            _parameters = Bits(Model.Parameters.Values);
            _step = optimizer.StepCount;
            _lr = optimizer.LearningRate;
            _state = optimizer.ExportState(Model.Parameters).Select(s => Bits(s.Values)).ToList();
        }

        public void AssertUnchanged()
        {
            Assert.Equal(_parameters, Bits(Model.Parameters.Values));
            Assert.Equal(_step, Optimizer.StepCount);
            Assert.Equal(_lr, Optimizer.LearningRate);
            Assert.Equal(_state, Optimizer.ExportState(Model.Parameters).Select(s => Bits(s.Values)).ToList());
        }
    }

    string SaveResumable()
    {
        string path = _dir.File("source.safetensors");
        var model = new ResumeFashionMlp(seed: 4);
        var optimizer = NewAdamW();
        model.Fit(Train.Value.Take(256), epochs: 1, batchSize: Batch, optimizer: optimizer, seed: 4, verbose: false);
        model.Save(path, optimizer);
        return path;
    }

    [Fact]
    public void AnotherOptimizerTypeFailsAndChangesNothing()
    {
        string path = SaveResumable();
        var target = new Target(new Sgd(0.01f, momentum: 0.9f));
        var ex = Assert.Throws<CheckpointException>(() => target.Model.Load(path, target.Optimizer));
        Assert.Contains("the file holds the state of a AdamW optimizer but the given optimizer is a Sgd", ex.Message);
        target.AssertUnchanged();
    }

    [Fact]
    public void AnotherHyperparameterFailsNamingItAndChangesNothing()
    {
        string path = SaveResumable();
        var target = new Target(NewAdamW(weightDecay: 0.02f, epochs: 3));
        var ex = Assert.Throws<CheckpointException>(() => target.Model.Load(path, target.Optimizer));
        Assert.Contains("hyperparameter 'weight_decay' differs: 0.01 in the file, 0.02 in the given optimizer", ex.Message);
        Assert.Contains("schedule differs: CosineDecay(totalSteps=188", ex.Message);
        Assert.Contains("CosineDecay(totalSteps=141", ex.Message);
        Assert.Equal(2, ex.Problems.Count);
        target.AssertUnchanged();
    }

    [Theory]
    [InlineData(100)]     // cuts into the data buffer: the optimizer tensors (last) lie outside it
    [InlineData(-1)]      // cuts into the header
    public void TruncatedResumableCheckpointFailsAndChangesNothing(int cutBytes)
    {
        string path = SaveResumable();
        byte[] bytes = File.ReadAllBytes(path);
        string cut = _dir.File("cut.safetensors");
        File.WriteAllBytes(cut, bytes.AsSpan(0, cutBytes > 0 ? bytes.Length - cutBytes : 200).ToArray());
        var target = new Target(NewAdamW());
        var ex = Assert.Throws<CheckpointException>(() => target.Model.Load(cut, target.Optimizer));
        Assert.Contains(cutBytes > 0 ? "truncated" : "truncated or not a safetensors file", ex.Message);
        target.AssertUnchanged();
        Assert.Throws<CheckpointException>(() => target.Model.Load(cut));
        target.AssertUnchanged();
    }

    [Fact]
    public void OldStyleFilesStillLoadAndNeedNoOptimizer()
    {
        string path = _dir.File("old.safetensors");
        var model = new ResumeFashionMlp(seed: 6);
        model.Save(path);
        Assert.DoesNotContain(SafeTensors.ReadHeader(path), e => e.Name.StartsWith("optimizer.", StringComparison.Ordinal));
        var plain = new ResumeFashionMlp(seed: 7);
        plain.Load(path);
        Assert.Equal(Bits(model.Parameters.Values), Bits(plain.Parameters.Values));

        var target = new Target(NewAdamW());
        var ex = Assert.Throws<CheckpointException>(() => target.Model.Load(path, target.Optimizer));
        Assert.Contains("holds no optimizer state", ex.Message);
        target.AssertUnchanged();
    }

    [Fact]
    public void WrongOrUnknownOptimizerTensorsFailAndChangeNothing()
    {
        var source = new ResumeFashionMlp(seed: 4);
        var optimizer = NewAdamW();
        int n = source.Parameters.TrainableLength;
        var metadata = optimizer.ExportMetadata();
        string path = _dir.File("forged.safetensors");
        SafeTensors.Save(path, source.Parameters, metadata,
            new (string, float[])[] { ("optimizer.m", new float[n - 1]), ("optimizer.momentum_buffer", new float[n]) }, afterHeader: null);
        var target = new Target(NewAdamW());
        var ex = Assert.Throws<CheckpointException>(() => target.Model.Load(path, target.Optimizer));
        Assert.Contains($"optimizer state tensor 'optimizer.m' has shape ({n - 1}) in the file but the model trains {n} floats", ex.Message);
        Assert.Contains("missing optimizer state tensor 'optimizer.v'", ex.Message);
        Assert.Contains("unexpected optimizer state tensor 'optimizer.momentum_buffer'", ex.Message);
        Assert.Equal(3, ex.Problems.Count);
        target.AssertUnchanged();
    }

    [Fact]
    public void AnOptimizerOfAnotherModelIsRefused()
    {
        string path = SaveResumable();
        var other = new Target(NewAdamW());          // the optimizer holds state for other.Model
        var model = new ResumeFashionMlp(seed: 1);
        var ex = Assert.Throws<CheckpointException>(() => model.Load(path, other.Optimizer));
        Assert.Contains("already holds state for another model's parameters", ex.Message);
        other.AssertUnchanged();
        Assert.Throws<InvalidOperationException>(() => model.Save(_dir.File("x.safetensors"), other.Optimizer));
    }

    public static IEnumerable<object[]> Optimizers() => new[]
    {
        new object[] { "sgd", (Func<Optimizer>)(() => new Sgd(0.02f, momentum: 0.9f, nesterov: true, weightDecay: 1e-4f)) },
        new object[] { "sgd-plain", (Func<Optimizer>)(() => new Sgd(0.02f)) },
        new object[] { "adam", (Func<Optimizer>)(() => new Adam(1e-3f, weightDecay: 1e-4f) { ClipGradientNorm = 1f }) },
        new object[] { "rmsprop", (Func<Optimizer>)(() => new RMSprop(1e-3f, momentum: 0.5f, centered: true) { Schedule = new StepDecay(5, 0.5f) }) },
        new object[] { "rmsprop-plain", (Func<Optimizer>)(() => new RMSprop(1e-3f)) },
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void EveryOptimizerResumesExactly(string name, Func<Optimizer> create)
    {
        var train = Train.Value.Take(400);
        var straight = new ResumeFashionMlp(seed: 8);
        var straightHistory = straight.Fit(train, epochs: 2, batchSize: 50, optimizer: create(), seed: 2, verbose: false);

        string path = _dir.File(name + ".safetensors");
        var first = new ResumeFashionMlp(seed: 8);
        var firstOptimizer = create();
        first.Fit(train, epochs: 1, batchSize: 50, optimizer: firstOptimizer, seed: 2, verbose: false);
        first.Save(path, firstOptimizer);
        var model = new ResumeFashionMlp(seed: 1);
        var optimizer = create();
        model.Load(path, optimizer);
        var resumed = model.Fit(train, epochs: 2, batchSize: 50, optimizer: optimizer, seed: 2, verbose: false, initialEpoch: 1);
        Assert.Equal(straightHistory[1].TrainLoss, resumed[0].TrainLoss);
        Assert.Equal(Bits(straight.Parameters.Values), Bits(model.Parameters.Values));
    }

    [Fact]
    public void InitialEpochAtOrPastTheEndRunsNothingAndNegativeIsRejected()
    {
        var model = new ResumeFashionMlp(seed: 1);
        Assert.Empty(model.Fit(Train.Value.Take(64), epochs: 2, batchSize: Batch, verbose: false, initialEpoch: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(Train.Value.Take(64), epochs: 2, verbose: false, initialEpoch: -1));
    }
}
