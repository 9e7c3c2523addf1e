import json, numpy as np, sys
sys.path.insert(0,'sim/probe-lab')
from sim import *
data=json.load(open('sim/probe-lab/perL-101.json'))
ACC=np.array([2,5,10,20,40,80.])
def pseudo_rows(D, fam):
    n=len(D); X=[]
    if fam in ('self','both'):
        for m in range(n):
            for a in ACC:
                x=D[m]+a; x=x.copy(); x[m]=a; X.append(x)
    if fam in ('mix','both'):
        for m1 in range(n):
            for m2 in range(m1+1,n):
                for lam in (0.25,0.5,0.75):
                    x=lam*D[m1]+(1-lam)*D[m2]; x=x.copy(); x[m1]=(1-lam)*D[m1][m2]; x[m2]=lam*D[m1][m2]
                    for a in (3,15,40.): X.append(x+a)
    if fam=='noself':
        for m in range(n):
            for a in ACC:
                x=D[m]+a; x=x.copy(); x[m]=np.inf; X.append(x)
    return np.array(X)
def make_next(fam, sig_rel, sig_abs, tail, blend):
    cache={}
    def nxt(D, probed, r, lost=()):
        key=id(D)
        if key not in cache: cache.clear(); cache[key]=pseudo_rows(D,fam)
        X=cache[key]; n=len(D)
        ll=np.zeros(len(X))
        for a,ra in zip(probed,r):
            z=(X[:,a]-ra)/(sig_rel*ra+sig_abs)
            ll+= -0.5*z*z if tail=='gauss' else -np.log1p(z*z)  # cauchy
        w=np.exp(ll-ll.max())
        best=np.min(np.where(np.isfinite(X),X,np.inf),axis=1)
        cur=np.min(X[:,probed],axis=1) if probed else np.full(len(X),np.inf)
        sc=np.full(n,-np.inf)
        for j in range(n):
            if j in probed or j in lost: continue
            g=np.minimum(cur,X[:,j]); okk=(g<=best*1.1)|(g<=best+5)
            sc[j]=np.sum(w*okk)/w.sum()
        if blend>0:
            b=policy_next_scores(D,probed,r)
            sc=sc - blend*b/ (np.nanmedian(r)+1)
        for a in list(probed)+list(lost): sc[a]=-np.inf
        return int(np.argmax(sc))
    return nxt
def policy_next_scores(D, probed, r):
    n=len(D); on=np.full(n,-np.inf); be=np.full(n,-np.inf); hi=np.full(n,np.inf)
    for a,ra in zip(probed,r):
        d=D[a]; m=~np.isnan(d)
        on[m]=np.maximum(on[m], ra-d[m]); be[m]=np.maximum(be[m], d[m]-ra); hi[m]=np.minimum(hi[m], ra+d[m])
    return np.minimum(np.maximum(on,0)+BW*np.maximum(be,0), hi)
if __name__=="__main__":
  configs=[(f,sr,sa,t,0) for f in ('self','mix','both','noself') for sr,sa in ((0.1,5),(0.25,10)) for t in ('cauchy',)]
  for ds, rows in data.items():
      for cfg in configs:
          nxt=make_next(*cfg); res=[]
          for r in rows[:50]:
              D,T=load(r)
              res.append(100*cover(D,T,r['curL'],nxt=nxt))
          print(ds, cfg, round(np.mean(res),1), 'base', round(np.mean([100*cover(*load(r),r['curL']) for r in rows[:50]]),1), flush=True)
