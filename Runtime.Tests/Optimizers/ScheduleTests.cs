using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Optimizers;

/// <summary>Learning-rate schedules: values at given steps, worked out by hand (tolerance 1e-6).</summary>
public class ScheduleTests
{
    [Fact]
    public void CosineDecayFollowsHalfACosine()
    {
        var s = new CosineDecay(totalSteps: 100, minFactor: 0.1f);
        Assert.Equal(1f, s.Factor(0), 6);
        Assert.Equal(0.1f + 0.9f * 0.5f, s.Factor(50), 6);                                   // cos(pi/2) = 0
        Assert.Equal(0.1f + 0.9f * 0.5f * (1 + (float)Math.Cos(Math.PI * 0.25)), s.Factor(25), 6);
        Assert.Equal(0.1f, s.Factor(100), 6);
        Assert.Equal(0.1f, s.Factor(1000), 6);
    }

    [Fact]
    public void WarmupRisesLinearlyThenAnneals()
    {
        var s = new CosineDecay(totalSteps: 110, warmupSteps: 10);
        Assert.Equal(0.1f, s.Factor(0), 6);
        Assert.Equal(1f, s.Factor(9), 6);
        Assert.Equal(1f, s.Factor(10), 6);
        Assert.Equal(0.5f, s.Factor(60), 6);
        Assert.Equal(0f, s.Factor(110), 6);
    }

    [Fact]
    public void StepsForCountsThePartialBatch() => Assert.Equal(938 * 5, CosineDecay.StepsFor(60000, 64, 5));

    [Fact]
    public void OptimizerStepUsesTheScheduledRate()
    {
        var store = new ParameterStore(new[] { new ParameterInfo("w", new[] { 3 }, 0, Init.Zeros) }, seed: 0);
        store.Gradients.Fill(1f);
        var sgd = new Sgd(0.5f) { Schedule = new CosineDecay(totalSteps: 2) };
        Assert.Equal(0.5f, sgd.CurrentLearningRate, 6);
        sgd.Step(store);                                     // factor 1: w = -0.5
        Assert.Equal(0.25f, sgd.CurrentLearningRate, 6);     // factor 0.5 at step 1
        sgd.Step(store);                                     // w = -0.75
        Assert.Equal(-0.75f, store.Values[0], 6);
        Assert.Equal(0f, sgd.CurrentLearningRate, 6);
    }

    [Fact]
    public void InvalidSchedulesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(10, minFactor: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(10, warmupSteps: 10));
    }
}

/// <summary>StepDecay, ExponentialDecay, MultiStepDecay and LinearWarmup: values worked out by hand.</summary>
public class DecayScheduleTests
{
    [Fact]
    public void StepDecayDropsEveryStepSizeSteps()
    {
        var s = new StepDecay(stepSize: 3, gamma: 0.5f);
        // steps 0,1,2 -> 1; 3,4,5 -> 0.5; 6 -> 0.25; 30 -> 0.5^10 = 1/1024.
        Assert.Equal(1f, s.Factor(0), 6);
        Assert.Equal(1f, s.Factor(2), 6);
        Assert.Equal(0.5f, s.Factor(3), 6);
        Assert.Equal(0.5f, s.Factor(5), 6);
        Assert.Equal(0.25f, s.Factor(6), 6);
        Assert.Equal(1f / 1024, s.Factor(30), 9);
    }

    [Fact]
    public void ExponentialDecayMultipliesEveryStep()
    {
        var s = new ExponentialDecay(0.9f);
        Assert.Equal(1f, s.Factor(0), 6);
        Assert.Equal(0.9f, s.Factor(1), 6);
        Assert.Equal(0.81f, s.Factor(2), 6);
        Assert.Equal(0.729f, s.Factor(3), 6);
        Assert.Equal(0.34867844f, s.Factor(10), 6);            // 0.9^10
    }

    [Fact]
    public void MultiStepDecayCountsMilestonesReached()
    {
        var s = new MultiStepDecay(new[] { 30, 10 }, gamma: 0.1f);  // sorted to 10, 30
        Assert.Equal(new[] { 10, 30 }, s.Milestones.ToArray());
        Assert.Equal(1f, s.Factor(0), 6);
        Assert.Equal(1f, s.Factor(9), 6);
        Assert.Equal(0.1f, s.Factor(10), 6);                    // PyTorch: the milestone step itself is decayed
        Assert.Equal(0.1f, s.Factor(29), 6);
        Assert.Equal(0.01f, s.Factor(30), 7);
        Assert.Equal(0.01f, s.Factor(1000), 7);
        var twice = new MultiStepDecay(new[] { 5, 5 }, gamma: 0.5f);
        Assert.Equal(1f, twice.Factor(4), 6);
        Assert.Equal(0.25f, twice.Factor(5), 6);
        Assert.Equal(1f, new MultiStepDecay(System.Array.Empty<int>()).Factor(100), 6);
    }

    [Fact]
    public void LinearWarmupRisesThenDelegatesWithTheStepShifted()
    {
        var plain = new LinearWarmup(4);
        Assert.Equal(0.25f, plain.Factor(0), 6);
        Assert.Equal(0.5f, plain.Factor(1), 6);
        Assert.Equal(1f, plain.Factor(3), 6);
        Assert.Equal(1f, plain.Factor(100), 6);

        var then = new LinearWarmup(4, new StepDecay(2, 0.5f));
        Assert.Equal(0.75f, then.Factor(2), 6);
        Assert.Equal(1f, then.Factor(4), 6);                     // StepDecay step 0
        Assert.Equal(1f, then.Factor(5), 6);                     // step 1
        Assert.Equal(0.5f, then.Factor(6), 6);                   // step 2
        Assert.Equal(0.25f, then.Factor(8), 6);                  // step 4

        var cosine = new LinearWarmup(10, new CosineDecay(100));
        Assert.Equal(0.1f, cosine.Factor(0), 6);
        Assert.Equal(1f, cosine.Factor(10), 6);
        Assert.Equal(0.5f, cosine.Factor(60), 6);                // cosine step 50 of 100
        Assert.Equal(0f, cosine.Factor(110), 6);
    }

    [Fact]
    public void AnOptimizerFollowsAStepDecay()
    {
        var store = new ParameterStore(new[] { new ParameterInfo("w", new[] { 1 }, 0, Init.Zeros) }, seed: 0);
        store.Gradients.Fill(1f);
        var sgd = new Sgd(1f) { Schedule = new StepDecay(1, 0.5f) };
        for (int i = 0; i < 3; i++) sgd.Step(store);             // 1 + 0.5 + 0.25
        Assert.Equal(-1.75f, store.Values[0], 6);
        Assert.Equal(0.125f, sgd.CurrentLearningRate, 6);
    }

    [Fact]
    public void InvalidDecaysAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(0, 0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(3, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(float.PositiveInfinity));
        Assert.Equal(2.25f, new ExponentialDecay(1.5f).Factor(2), 6);   // growth is allowed, as in PyTorch
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiStepDecay(new[] { -1 }));
        Assert.Throws<ArgumentNullException>(() => new MultiStepDecay(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearWarmup(0));
    }
}
