using System;
using System.Threading;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Training;

/// <summary>
/// Fit changes the parameters the inference of the same model reads, so it does not run alongside Predict, Evaluate
/// or another Fit on that model: whichever comes second is refused with an InvalidOperationException naming the model.
/// The thread that runs Fit may still use the model from its callbacks.
/// </summary>
public class ConcurrentUseTests
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Holds Fit inside its OnTrainBegin until the test releases it.</summary>
    sealed class Hold : Callback
    {
        public readonly ManualResetEventSlim Inside = new(), Release = new();

        public override void OnTrainBegin()
        {
            Inside.Set();
            Release.Wait(Wait);
        }
    }

    [Fact]
    public void Predict_Evaluate_and_Fit_are_refused_while_Fit_runs_on_another_thread()
    {
        var model = new LinearModel(4, 3, seed: 1);
        var data = Synthetic.Blobs(64, 1);
        var hold = new Hold();
        History? history = null;
        var fit = new Thread(() => history = model.Fit(data, epochs: 1, batchSize: 16, callbacks: new[] { hold }, verbose: false));
        fit.Start();
        Assert.True(hold.Inside.Wait(Wait));
        try
        {
            var predict = Assert.Throws<InvalidOperationException>(() => model.Predict(new Tensor(data.Sample(0), 4)));
            var evaluate = Assert.Throws<InvalidOperationException>(() => model.Evaluate(data));
            var second = Assert.Throws<InvalidOperationException>(() => model.Fit(data, epochs: 1, verbose: false));
            foreach (var e in new[] { predict, evaluate, second })
            {
                Assert.Contains("LinearModel", e.Message);
                Assert.Contains("Fit", e.Message);
            }
            Assert.Contains("Predict", predict.Message);
            Assert.Contains("Evaluate", evaluate.Message);
        }
        finally
        {
            hold.Release.Set();
        }
        Assert.True(fit.Join(Wait));
        Assert.Single(history!);
        Assert.Equal(4, model.TrainSteps);   // the refused Fit ran no step
        model.Predict(new Tensor(data.Sample(0), 4));   // and once Fit is done, inference runs again
    }

    [Fact]
    public void Fit_is_refused_while_Predict_or_Evaluate_runs_on_another_thread()
    {
        foreach (bool evaluate in new[] { false, true })
        {
            var model = new LinearModel(4, 3, seed: 1);
            var data = Synthetic.Blobs(64, 1);
            using var inside = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();
            model.DuringInference = () =>
            {
                inside.Set();
                release.Wait(Wait);
            };
            var running = new Thread(() => { if (evaluate) model.Evaluate(data); else model.Predict(new Tensor(data.Sample(0), 4)); });
            running.Start();
            Assert.True(inside.Wait(Wait));
            try
            {
                var e = Assert.Throws<InvalidOperationException>(() => model.Fit(data, epochs: 1, verbose: false));
                Assert.Contains("LinearModel", e.Message);
                Assert.Contains("Predict or Evaluate", e.Message);
                Assert.Equal(0, model.TrainSteps);
            }
            finally
            {
                release.Set();
            }
            Assert.True(running.Join(Wait));
            model.DuringInference = null;
            model.Fit(data, epochs: 1, batchSize: 16, verbose: false);   // once inference is done, Fit runs
            Assert.Equal(4, model.TrainSteps);
        }
    }

    /// <summary>Predict or Evaluate from a callback runs on Fit's own thread, between steps: allowed, as before.</summary>
    sealed class EvaluateEachEpoch : Callback
    {
        public readonly Dataset Data;
        public double? Loss;
        public EvaluateEachEpoch(Dataset data) => Data = data;

        public override void OnEpochEnd(EpochResult result)
        {
            Loss = RequireModel().Evaluate(Data).Loss;
            RequireModel().Predict(new Tensor(Data.Sample(0), 4));
        }
    }

    [Fact]
    public void Callbacks_may_use_the_model_they_train()
    {
        var model = new LinearModel(4, 3, seed: 1);
        var data = Synthetic.Blobs(64, 1);
        var callback = new EvaluateEachEpoch(data);
        var history = model.Fit(data, epochs: 2, batchSize: 16, validation: data, callbacks: new[] { callback }, verbose: false);
        Assert.Equal(history[1].ValidationLoss, callback.Loss);
    }
}
