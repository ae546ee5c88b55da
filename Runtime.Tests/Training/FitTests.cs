using System;
using System.Collections.Generic;
using System.IO;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Training;

public sealed class FitTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "mg-fit-" + Guid.NewGuid().ToString("N"));

    public FitTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    static readonly Dataset Train = Synthetic.Blobs(300, 1);
    static readonly Dataset Validation = Synthetic.Blobs(100, 2);

    [Fact]
    public void Fit_learns_a_separable_problem()
    {
        var model = new LinearModel(4, 3, seed: 1);
        var h = model.Fit(Train, epochs: 10, batchSize: 16, optimizer: new AdamW(0.05f), validation: Validation, verbose: false);
        Assert.Equal(10, h.Count);
        Assert.False(h.StoppedEarly);
        Assert.True(h[^1].TrainAccuracy >= 0.95, $"train accuracy {h[^1].TrainAccuracy}");
        Assert.True(h[^1].ValidationAccuracy >= 0.95, $"validation accuracy {h[^1].ValidationAccuracy}");
        Assert.True(h[^1].TrainLoss < 0.5 * h[0].TrainLoss, $"loss {h[0].TrainLoss} -> {h[^1].TrainLoss}");
        Assert.True(h[^1].SamplesPerSecond > 0);
        Assert.Equal(1, h[0].Epoch);
        Assert.Equal(h[^1].ValidationLoss, model.Evaluate(Validation).Loss);
    }

    [Fact]
    public void Fit_is_deterministic_under_a_seed()
    {
        (float[] values, double[] losses) Run(int fitSeed)
        {
            var model = new LinearModel(4, 3, seed: 5);
            var h = model.Fit(Train, epochs: 3, batchSize: 7, optimizer: new Sgd(0.1f, 0.9f), seed: fitSeed, verbose: false);
            var losses = new double[h.Count];
            for (int i = 0; i < h.Count; i++) losses[i] = h[i].TrainLoss;
            return (model.Parameters.Values.ToArray(), losses);
        }
        var a = Run(11);
        var b = Run(11);
        Assert.Equal(a.values, b.values);
        Assert.Equal(a.losses, b.losses);
        var c = Run(12);
        Assert.NotEqual(a.values, c.values);   // the seed does drive the shuffle
    }

    [Fact]
    public void The_last_partial_batch_runs_and_no_sample_is_dropped()
    {
        var data = Synthetic.Blobs(103, 3);
        var model = new LinearModel(4, 3);
        model.Fit(data, epochs: 2, batchSize: 10, optimizer: new Sgd(0.01f), verbose: false);
        Assert.Equal(22, model.TrainSteps);                       // 11 steps per epoch
        Assert.Equal(1, model.ProgramsCreated);
        Assert.Equal(10, model.LastMaxBatch);
        for (int e = 0; e < 2; e++)
        {
            for (int s = 0; s < 10; s++) Assert.Equal(10, model.BatchSizes[e * 11 + s]);
            Assert.Equal(3, model.BatchSizes[e * 11 + 10]);
        }
    }

    [Fact]
    public void A_batch_larger_than_the_set_uses_one_batch_of_the_whole_set()
    {
        var data = Synthetic.Blobs(5, 3);
        var model = new LinearModel(4, 3);
        model.Fit(data, epochs: 1, batchSize: 64, optimizer: new Sgd(0.01f), verbose: false);
        Assert.Equal(1, model.TrainSteps);
        Assert.Equal(5, model.LastMaxBatch);
    }

    [Fact]
    public void The_loader_shuffles_each_epoch_into_a_permutation_from_the_seed()
    {
        var data = Synthetic.Blobs(103, 3);
        var a = new BatchLoader(data, 10, seed: 4);
        var b = new BatchLoader(data, 10, seed: 4);
        a.StartEpoch(0);
        int[] first = a.Order.ToArray();
        var sorted = (int[])first.Clone();
        Array.Sort(sorted);
        for (int i = 0; i < sorted.Length; i++) Assert.Equal(i, sorted[i]);
        a.StartEpoch(1);
        Assert.NotEqual(first, a.Order.ToArray());
        b.StartEpoch(1);
        Assert.Equal(a.Order.ToArray(), b.Order.ToArray());
        a.StartEpoch(0);
        Assert.Equal(first, a.Order.ToArray());

        int total = 0;
        var labelCounts = new int[3];
        for (int i = 0; i < a.BatchCount; i++)
        {
            int n = a.Load(i);
            total += n;
            for (int r = 0; r < n; r++) labelCounts[a.Labels[r]]++;
            // the batch holds the features of the samples in this order
            int s = first[i * 10];
            Assert.Equal(data.Sample(s).ToArray(), a.Input.Slice(0, 4).ToArray());
        }
        Assert.Equal(103, total);
        var expected = new int[3];
        foreach (int l in data.Labels!) expected[l]++;
        Assert.Equal(expected, labelCounts);
    }

    sealed class Corrupt : Callback
    {
        public override void OnEpochEnd(EpochResult result)
        {
            // A model far worse than any trained or initial one: the bias alone picks class 2 by a margin of 100.
            var parameters = RequireModel().Parameters;
            parameters.Values.Clear();
            parameters["linear.bias"].Value.Data[0] = -100f;
            parameters["linear.bias"].Value.Data[2] = 100f;
        }
    }

    [Fact]
    public void EarlyStopping_stops_after_patience_and_restores_the_best_parameters()
    {
        var model = new LinearModel(4, 3, seed: 2);
        float[] initial = model.Parameters.Values.ToArray();
        var stop = new EarlyStopping(patience: 2, restoreBest: true);
        // lr 0: the validation loss never improves after epoch 1; Corrupt runs after EarlyStopping's snapshot,
        // and a learning rate of 0 keeps the corruption, so only the restore brings the epoch-1 parameters back.
        var h = model.Fit(Train, epochs: 20, batchSize: 32, optimizer: new Sgd(0f), validation: Validation,
            callbacks: new Callback[] { stop, new Corrupt() }, verbose: false);
        Assert.Equal(4, h.Count);   // epoch 1 best, then 3 epochs without improvement > patience 2
        Assert.True(h.StoppedEarly);
        Assert.Equal(4, stop.StoppedEpoch);
        Assert.Equal(1, stop.BestEpoch);
        Assert.Equal(initial, model.Parameters.Values.ToArray());
    }

    [Fact]
    public void EarlyStopping_without_a_validation_set_says_so()
    {
        var model = new LinearModel(4, 3);
        var ex = Assert.Throws<InvalidOperationException>(() =>
            model.Fit(Train, 2, callbacks: new Callback[] { new EarlyStopping() }, verbose: false));
        Assert.Contains("no validation set", ex.Message);
    }

    [Fact]
    public void ModelCheckpoint_writes_files_that_Load_restores()
    {
        var model = new LinearModel(4, 3, seed: 1);
        var every = new ModelCheckpoint(Path.Combine(_dir, "e{epoch}.safetensors"));
        var best = new ModelCheckpoint(Path.Combine(_dir, "best.safetensors"), saveBestOnly: true);
        model.Fit(Train, epochs: 3, batchSize: 32, optimizer: new AdamW(0.05f), validation: Validation,
            callbacks: new Callback[] { every, best }, verbose: false);
        for (int e = 1; e <= 3; e++) Assert.True(File.Exists(Path.Combine(_dir, $"e{e}.safetensors")));
        Assert.Equal(3, every.LastSavedEpoch);
        Assert.True(best.LastSavedEpoch >= 1);
        var restored = new LinearModel(4, 3, seed: 99);
        restored.Load(Path.Combine(_dir, "e3.safetensors"));
        Assert.Equal(model.Parameters.Values.ToArray(), restored.Parameters.Values.ToArray());
        Assert.Equal(model.Evaluate(Validation).Loss, restored.Evaluate(Validation).Loss);
        Assert.Equal("LinearModel", SafeTensors.ReadMetadata(Path.Combine(_dir, "e3.safetensors"))["modelgen.model"]);
    }

    sealed class AllocationProbe : Callback
    {
        public readonly long[] AtEpochEnd = new long[16];
        int _i;
        public override void OnEpochEnd(EpochResult result) => AtEpochEnd[_i++] = GC.GetAllocatedBytesForCurrentThread();
    }

    [Fact]
    public void A_steady_state_epoch_allocates_only_its_bookkeeping()
    {
        // 2000 samples in batches of 4: 500 steps per epoch, so one allocation per step (at least 24 bytes) would
        // add at least 12,000 bytes. The per-epoch bookkeeping (the EpochResult, the validation Evaluation with its
        // 3x3 confusion matrix) is a few hundred bytes; the bound is 1,024 bytes per epoch.
        var data = Synthetic.Blobs(2000, 7);
        var model = new LinearModel(4, 3);
        var probe = new AllocationProbe();
        model.Fit(data, epochs: 4, batchSize: 4, optimizer: new Sgd(0.01f, 0.9f, nesterov: true), validation: Validation,
            callbacks: new Callback[] { probe }, verbose: false);
        long epoch3 = probe.AtEpochEnd[2] - probe.AtEpochEnd[1];
        long epoch4 = probe.AtEpochEnd[3] - probe.AtEpochEnd[2];
        Assert.True(epoch3 <= 1024, $"epoch 3 allocated {epoch3} bytes");
        Assert.True(epoch4 <= 1024, $"epoch 4 allocated {epoch4} bytes");
    }

    [Fact]
    public void Fit_on_a_regression_model_reduces_the_mean_squared_error()
    {
        var data = Synthetic.Regression(400, 1);
        var model = new LinearModel(3, 2, seed: 1, target: TargetKind.Tensor);
        double before = model.Evaluate(data).Loss;
        var h = model.Fit(data, epochs: 30, batchSize: 20, optimizer: new Sgd(0.1f, 0.9f), verbose: false);
        Assert.Null(h[0].TrainAccuracy);
        var e = model.Evaluate(data);
        Assert.Null(e.Accuracy);
        Assert.Null(e.ConfusionMatrix);
        Assert.True(e.Loss < 1e-3 && e.Loss < before / 100, $"MSE {before} -> {e.Loss}");
    }

    [Fact]
    public void Fit_rejects_bad_arguments_with_clear_messages()
    {
        var model = new LinearModel(4, 3);
        var wrongShape = new Dataset(new float[10], new[] { 5 }, new[] { 0, 1 }, 3);
        var ex = Assert.Throws<ArgumentException>(() => model.Fit(wrongShape, 1, verbose: false));
        Assert.Contains("shape (5)", ex.Message);
        Assert.Contains("(4)", ex.Message);
        var targetsOnly = new Dataset(new float[16], new[] { 4 }, new float[12], new[] { 3 });
        ex = Assert.Throws<ArgumentException>(() => model.Fit(targetsOnly, 1, verbose: false));
        Assert.Contains("class labels", ex.Message);
        var regression = new LinearModel(3, 2, target: TargetKind.Tensor);
        ex = Assert.Throws<ArgumentException>(() => regression.Fit(new Dataset(new float[6], new[] { 3 }, new[] { 0, 1 }, 2), 1, verbose: false));
        Assert.Contains("tensor targets", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(Train, 1, batchSize: 0, verbose: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(Train, -1, verbose: false));
        var empty = model.Fit(Train, 0, verbose: false);
        Assert.Empty(empty);
        Assert.Equal(0, model.TrainSteps);
    }

    [Fact]
    public void Verbose_fit_prints_one_line_per_epoch()
    {
        var model = new LinearModel(4, 3);
        var saved = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        try
        {
            model.Fit(Train, epochs: 2, batchSize: 32, optimizer: new AdamW(0.05f), validation: Validation, verbose: true);
        }
        finally { Console.SetOut(saved); }
        string text = sw.ToString();
        Assert.Contains("epoch 1/2  loss ", text);
        Assert.Contains("epoch 2/2  loss ", text);
        Assert.Contains("  acc ", text);
        Assert.Contains("  val_loss ", text);
        Assert.Contains("  val_acc ", text);
        Assert.Contains(" samples/s  ", text);
    }
}
