using System;
using Xunit;

namespace ModelGen.Runtime.Tests.Optimizers;

/// <summary>
/// Every public setter of the runtime checks its value as the constructor does: the optimizers' learning rate (and
/// the schedule's factor it is scaled by), the clipping norm, the initializer scales of [Parameter], the thread count.
/// A refused value leaves the old one.
/// </summary>
public class SetterValidationTests
{
    public static TheoryData<float> BadLearningRates => new() { float.NaN, -1e-3f, float.PositiveInfinity, float.NegativeInfinity };

    static Optimizer[] AllOptimizers() => new Optimizer[] { new Sgd(0.1f), new Adam(0.1f), new AdamW(0.1f), new RMSprop(0.1f) };

    [Theory]
    [MemberData(nameof(BadLearningRates))]
    public void The_learning_rate_setter_refuses_what_the_constructor_refuses(float rate)
    {
        foreach (var optimizer in AllOptimizers())
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = rate);
            Assert.Contains("finite and non-negative", ex.Message);
            Assert.Equal(0.1f, optimizer.LearningRate);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(rate));
    }

    [Fact]
    public void The_learning_rate_setter_accepts_zero_and_positive_rates()
    {
        foreach (var optimizer in AllOptimizers())
        {
            optimizer.LearningRate = 0f;
            Assert.Equal(0f, optimizer.LearningRate);
            optimizer.LearningRate = 3e-4f;
            Assert.Equal(3e-4f, optimizer.LearningRate);
        }
    }

    sealed class Constant(float factor) : LearningRateSchedule
    {
        public override float Factor(int step) => factor;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(-0.5f)]
    [InlineData(float.PositiveInfinity)]
    public void A_schedule_factor_that_is_negative_or_not_finite_stops_the_step(float factor)
    {
        var store = new ParameterStore(new[] { new ParameterInfo("w", new[] { 3 }, 0, Init.Ones) }, 0);
        store.Gradients.Fill(1f);
        var sgd = new Sgd(0.1f) { Schedule = new Constant(factor) };
        var ex = Assert.Throws<InvalidOperationException>(() => sgd.Step(store));
        Assert.Contains("Constant gave the factor", ex.Message);
        Assert.Contains("step 0", ex.Message);
        Assert.Equal(new[] { 1f, 1f, 1f }, store.Values.Slice(0, 3).ToArray());
        Assert.Equal(0, sgd.StepCount);
        sgd.Schedule = new Constant(0.5f);
        sgd.Step(store);
        Assert.Equal(0.95f, store.Values[0], 6);
    }

    [Fact]
    public void The_clipping_norm_setter_refuses_non_positive_or_non_finite_norms()
    {
        var sgd = new Sgd(0.1f) { ClipGradientNorm = 2f };
        foreach (float bad in new[] { 0f, -1f, float.NaN, float.PositiveInfinity })
            Assert.Throws<ArgumentOutOfRangeException>(() => sgd.ClipGradientNorm = bad);
        Assert.Equal(2f, sgd.ClipGradientNorm);
        sgd.ClipGradientNorm = null;
        Assert.Null(sgd.ClipGradientNorm);
    }

    [Fact]
    public void The_Parameter_attribute_refuses_scales_that_the_parameter_description_refuses()
    {
        var attribute = new ParameterAttribute(3);
        foreach (double bad in new[] { -0.1, double.NaN, double.PositiveInfinity })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => attribute.Std = bad);
            Assert.Throws<ArgumentOutOfRangeException>(() => attribute.Bound = bad);
            Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterInfo("w", new[] { 3 }, 0, Init.Normal, bad));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => attribute.Init = (Init)99);
        Assert.Equal(0.02, attribute.Std);
        Assert.Equal(0.05, attribute.Bound);
        Assert.Equal(Init.HeUniform, attribute.Init);
        attribute.Std = 0.5;
        attribute.Bound = 0;
        attribute.Init = Init.Normal;
        Assert.Equal((0.5, 0.0, Init.Normal), (attribute.Std, attribute.Bound, attribute.Init));
    }
}
