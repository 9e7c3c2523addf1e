import json, numpy as np, sys
sys.path.insert(0,'sim/probe-lab')
from sim import *
from exp2 import make_next, policy_next_scores
data=json.load(open('sim/probe-lab/perL-101.json'))
def sessions(D, t, L, nxt, K=3):
    probed=run_client(D,t,L,nxt=policy_next); lost=[]
    res=[]
    best=np.nanmin(t); okf=lambda x: t[x]<=best*1.1 or t[x]<=best+5
    res.append(any(okf(x) for x in probed))
    for s in range(1,K):
        for _ in range(2):
            if len(probed)+len(lost)>=len(D): break
            j=nxt(D, probed, [t[x] for x in probed], lost)
            if np.isnan(t[j]): lost.append(j)
            else: probed.append(j)
        res.append(any(okf(x) for x in probed))
    return res
rng=np.random.default_rng(0)
def rand_next(D, probed, r, lost=()):
    c=[j for j in range(len(D)) if j not in probed and j not in lost]; return int(rng.choice(c))
def hi_next(D, probed, r, lost=()):
    n=len(D); hi=np.full(n,np.inf)
    for a,ra in zip(probed,r): hi=np.minimum(hi, np.where(np.isnan(D[a]),np.inf,ra+D[a]))
    for a in list(probed)+list(lost): hi[a]=np.inf
    return int(np.argmin(hi))
def make_bw(bw):
    def f(D, probed, r, lost=()):
        n=len(D); on=np.full(n,-np.inf); be=np.full(n,-np.inf); hi=np.full(n,np.inf)
        for a,ra in zip(probed,r):
            d=D[a]; m=~np.isnan(d)
            on[m]=np.maximum(on[m], ra-d[m]); be[m]=np.maximum(be[m], d[m]-ra); hi[m]=np.minimum(hi[m], ra+d[m])
        sc=np.minimum(np.maximum(on,0)+bw*np.maximum(be,0), hi)
        for a in list(probed)+list(lost): sc[a]=np.inf
        return int(np.argmin(sc))
    return f
if __name__=="__main__":
 pols={'bounded':policy_next,'random':rand_next,'hi':hi_next,'post-both':make_next('both',0.25,10,'cauchy',0),'post-mix':make_next('mix',0.1,5,'cauchy',0),'bw1':make_bw(1),'bw0.5':make_bw(0.5),'bw3':make_bw(3)}
 for ds, rows in data.items():
     for name,p in pols.items():
         res=[]
         for r in rows:
             D,T=load(r)
             for t in T: res.append(sessions(D,t,r['curL'],p))
         print(ds,name,np.round(100*np.mean(res,axis=0),1),flush=True)
